from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from classifier.models import ClassifierRun, EmbeddingSet
from domainsieve.jobs import JobStatus
from labeling.models import Dataset
from tests.classifier.conftest import TINY


def test_it_embeds_from_the_command_line(labelled_pool: Dataset) -> None:
    out = StringIO()
    call_command("embed", "--dataset", "pool", "--extractor", TINY, "--batch-size", "16", verbosity=0, stdout=out)
    assert "45 images of pool, dim 32" in out.getvalue()
    assert EmbeddingSet.objects.get().status == JobStatus.SUCCEEDED


def test_it_trains_from_the_command_line_and_summarizes(labelled_pool: Dataset) -> None:
    out = StringIO()
    call_command("train_classifier", "--method", "dr-N", "--extractor", TINY, "--dataset", "pool", verbosity=0,
                 stdout=out)
    run = ClassifierRun.objects.get()
    assert run.status == JobStatus.SUCCEEDED and f"run {run.id} dr-N" in out.getvalue()
    assert "natural: thr" in out.getvalue()


@pytest.mark.parametrize("args,message", [
    (["embed", "--dataset", "nope", "--extractor", TINY], "no dataset named"),
    (["embed", "--dataset", "pool", "--extractor", "openclip:ViT-B-32/nope"], "known tags"),
    (["train_classifier", "--method", "linear", "--dataset", "pool", "--extractor", "x:y"], "unknown extractor"),
    (["train_classifier", "--method", "linear", "--extractor", TINY], "either --dataset"),
    (["train_classifier", "--method", "linear", "--dataset", "pool", "--hp", "{"], "not JSON"),
])
def test_it_exits_nonzero_with_a_clear_message(labelled_pool: Dataset, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command(*args, verbosity=0)
    assert not ClassifierRun.objects.exists()
