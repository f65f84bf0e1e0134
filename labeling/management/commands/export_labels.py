"""manage.py export_labels: a campaign's labels as CSV, JSONL, parquet, Label Studio JSON or labels.json;
or, with --import-labelstudio, restore labels from a Label Studio JSON export."""
from __future__ import annotations

import argparse
import csv
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
from labeling.services.labelstudio import labels_import_labelstudio
from labeling.services.quality import QualityError


class Command(BaseCommand):
    help = ("Write a campaign's final labels (live, or a frozen --snapshot) with columns uid, dataset, path, "
            "label, label_index, label_count, agreement, split. Formats: csv, jsonl, parquet, labelstudio "
            "(tasks with choice annotations; --labelstudio-config writes the matching XML), labels_json "
            "(the paper code's {uid: index}). --import-labelstudio FILE imports labels instead: as imported labels "
            "of --source NAME (non-login annotators, one per annotator of the file), or in existing users' names "
            "only where --map FOREIGN=USERNAME says so; never past k; skipped tasks are listed with the reason. "
            "--annotations writes every annotation as a row instead (audit).")

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
        parser.add_argument("--source", default=None,
                            help="with --import-labelstudio: store the labels as imported labels of this source "
                                 "(default 'labelstudio' when no --map is given)")
        parser.add_argument("--map", action="append", default=[], metavar="FOREIGN=USERNAME", dest="mappings",
                            help="with --import-labelstudio: attribute the file's annotator FOREIGN (its "
                                 "completed_by; '' for none) to the existing user USERNAME; repeatable")
        parser.add_argument("--dry-run", action="store_true",
                            help="with --import-labelstudio: report what would be imported and skipped, write nothing")
        parser.add_argument("--report", default=None, metavar="CSV",
                            help="with --import-labelstudio: write every skipped task with its reason here")
        parser.add_argument("--as-user", default=None, help=argparse.SUPPRESS)

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
        if options["as_user"]:
            raise CommandError("--as-user is gone: labels of a foreign file are stored under --source NAME, or "
                               "attributed to a user only by an explicit --map FOREIGN=USERNAME")
        users = get_user_model().objects
        annotator_map: dict[str, Any] = {}
        for mapping in options["mappings"]:
            foreign, sep, username = mapping.rpartition("=")
            if not sep or not username:
                raise CommandError(f"--map {mapping!r}: expected FOREIGN=USERNAME")
            user = users.filter(username=username).first()
            if user is None:
                raise CommandError(f"--map {mapping!r}: no user {username!r}")
            annotator_map[foreign] = user
        try:
            data = json.loads(Path(options["import_labelstudio"]).read_text())
        except (OSError, ValueError) as error:
            raise CommandError(f"cannot read {options['import_labelstudio']}: {error}") from None
        try:
            report = labels_import_labelstudio(campaign=campaign, data=data, imported_by=None,
                                               source=options["source"], annotator_map=annotator_map,
                                               dry_run=options["dry_run"])
        except QualityError as error:
            raise CommandError(str(error)) from None
        for skipped in report.skipped[:20]:
            self.stderr.write(skipped.line())
        if len(report.skipped) > 20:
            self.stderr.write(f"... and {len(report.skipped) - 20} more skipped"
                              + ("" if options["report"] else " (--report CSV lists them all)"))
        if options["report"]:
            with open(options["report"], "w", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["task", "uid", "annotator", "label", "reason"])
                writer.writerows([s.task, s.uid, s.annotator, s.label, s.reason] for s in report.skipped)
        self.stderr.write(f"import into {campaign.name!r}: {report.line()}")
