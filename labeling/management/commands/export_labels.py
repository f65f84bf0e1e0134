"""manage.py export_labels: a campaign's labels as CSV, JSONL, parquet, Label Studio JSON or labels.json;
or, with --import-labelstudio, restore labels from a Label Studio JSON export."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.http import Http404
from tqdm import tqdm

from labeling import exports
from labeling.exports.annotations import ANNOTATION_FORMATS, write_annotations
from labeling.selectors.exports import annotation_frame, annotations_by_image
from labeling.selectors.quality import export_frame, find_campaign, get_snapshot, get_split
from labeling.services.quality import QualityError, labels_import_labelstudio


class Command(BaseCommand):
    help = ("Write a campaign's final labels (live, or a frozen --snapshot) with columns uid, dataset, path, "
            "label, label_index, label_count, agreement, split. Formats: csv, jsonl, parquet, labelstudio "
            "(tasks with choice annotations; --labelstudio-config writes the matching XML), labels_json "
            "(the paper code's {uid: index}). --annotations writes every annotation as a row instead (audit); "
            "--import-labelstudio FILE restores labels instead.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("campaign", help="campaign id or name")
        parser.add_argument("--format", choices=exports.FORMATS, default="csv")
        parser.add_argument("--output", "-o", default="-", help="file to write (default stdout; parquet needs a file)")
        parser.add_argument("--snapshot", default=None, help="snapshot id or name (default: live final labels)")
        parser.add_argument("--split", default=None, help="split name[:version] or id: fills the split column")
        parser.add_argument("--base-url", default="http://127.0.0.1:8000",
                            help="site root for Label Studio image URLs")
        parser.add_argument("--labelstudio-config", default=None, metavar="PATH",
                            help="also write the Label Studio labeling config XML here")
        parser.add_argument("--annotations", action="store_true",
                            help="one row per annotation instead (item, image_id, uid, dataset, path, annotator, "
                                 "label, seconds, created_at, updated_at, adjudicated, adjudicated_label, "
                                 "final_label); csv, jsonl or parquet")
        parser.add_argument("--all-annotators", action="store_true",
                            help="labelstudio: also every annotator's annotation (completed_by), the final one "
                                 "marked ground_truth")
        parser.add_argument("--import-labelstudio", default=None, metavar="FILE",
                            help="restore labels from this Label Studio JSON export instead of exporting")
        parser.add_argument("--as-user", default=None,
                            help="with --import-labelstudio: the user labels are attributed to when the "
                                 "export's completed_by matches nobody (required for import)")

    def handle(self, *args: Any, **options: Any) -> None:
        campaign = find_campaign(ref=options["campaign"])
        if campaign is None:
            raise CommandError(f"no campaign with id or name {options['campaign']!r}")
        if options["import_labelstudio"]:
            self._import(campaign, options)
            return
        try:
            snapshot = get_snapshot(ref=options["snapshot"]) if options["snapshot"] else None
            split = None
            if options["split"]:
                ref, _, version = options["split"].partition(":")
                split = get_split(ref=ref, version=int(version) if version.isdigit() else None)
        except Http404 as error:
            raise CommandError(str(error)) from None
        if options["format"] == "parquet" and options["output"] == "-":
            raise CommandError("parquet is binary: give --output FILE")
        if options["annotations"]:
            self._annotations(campaign, options)
            return
        with tqdm(total=2, desc=f"export {campaign.name}", file=sys.stderr, disable=options["verbosity"] == 0) as bar:
            try:
                frame = export_frame(campaign=campaign, snapshot=snapshot, split=split,
                                     image_url=options["base_url"].rstrip("/") + "/api/v1/images/{id}/file/")
                bar.update(1)
                if options["format"] == "labelstudio" and options["all_annotators"]:
                    body = exports.write_labelstudio(frame, annotations_by_image(campaign=campaign))
                else:
                    body = exports.write(frame, options["format"])
                bar.update(1)
            except ValueError as error:
                raise CommandError(str(error)) from None
        if options["output"] == "-":
            self.stdout.write(body.decode(), ending="")
        else:
            Path(options["output"]).write_bytes(body)
        if options["labelstudio_config"]:
            Path(options["labelstudio_config"]).write_text(exports.labelstudio_config(campaign.label_names))
        labelled = int((frame["label_index"] >= 0).sum())
        self.stderr.write(f"exported {len(frame)} items ({labelled} with a final label) of {campaign.name!r} as "
                          f"{options['format']} to {options['output']}")

    def _annotations(self, campaign: Any, options: dict[str, Any]) -> None:
        if options["format"] not in ANNOTATION_FORMATS:
            raise CommandError(f"--annotations writes {', '.join(ANNOTATION_FORMATS)}, not {options['format']}")
        if options["snapshot"] or options["split"]:
            raise CommandError("--annotations exports the live annotations; drop --snapshot/--split")
        frame = annotation_frame(campaign=campaign)
        body = write_annotations(frame, options["format"])
        if options["output"] == "-":
            self.stdout.write(body.decode(), ending="")
        else:
            Path(options["output"]).write_bytes(body)
        self.stderr.write(f"exported {len(frame)} annotations by {frame['annotator'].nunique()} annotator(s) "
                          f"({int(frame['adjudicated'].sum())} on adjudicated items) of {campaign.name!r} as "
                          f"{options['format']} to {options['output']}")

    def _import(self, campaign: Any, options: dict[str, Any]) -> None:
        if not options["as_user"]:
            raise CommandError("--import-labelstudio needs --as-user USERNAME")
        user = get_user_model().objects.filter(username=options["as_user"]).first()
        if user is None:
            raise CommandError(f"no user {options['as_user']!r}")
        try:
            data = json.loads(Path(options["import_labelstudio"]).read_text())
        except (OSError, ValueError) as error:
            raise CommandError(f"cannot read {options['import_labelstudio']}: {error}") from None
        try:
            summary = labels_import_labelstudio(campaign=campaign, data=data, annotator=user)
        except QualityError as error:
            raise CommandError(str(error)) from None
        for message in summary.errors[:20]:
            self.stderr.write(message)
        self.stderr.write(f"import into {campaign.name!r}: {summary.line()}")
