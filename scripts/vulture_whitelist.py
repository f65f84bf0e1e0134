"""Names vulture cannot see used (scripts/dead_code.py scans this file with the code).

Each line says who uses the name.
"""
# ruff: noqa: B018
from vulture.whitelist_utils import Whitelist

_ = Whitelist()

_.when_ready  # gunicorn server hook (bench/labeling_load.py's config)
_.support  # Operating dataclass field, read through dataclasses.asdict()
_.DEFAULT  # choice value stored in rows (ApplyJob.Level)
_.ENTROPY  # choice value stored in rows (Campaign.UncertaintyMeasure)
_.ADJUDICATED_UNANIMOUS  # choice value stored in rows (Campaign.FinalLabelRule)
_.ADJUDICATED_ONLY  # choice value stored in rows (Campaign.FinalLabelRule)
_.changed_by  # model field, written by AnnotationHistory.objects.create(**row)
_.changed_at  # model field, written by AnnotationHistory.objects.create(**row)
_.registered_at  # model field of TrainHost, written on registration
_.original_response  # django-axes' lockout callable signature (AXES_LOCKOUT_CALLABLE)
_.format_suffix  # DRF's select_renderer signature
_.namespace  # argparse.ArgumentParser.parse_args signature, overridden
_.uid, _.gid, _.uname, _.gname  # tarfile.TarInfo fields, read by tarfile when it writes a member
_.LOAD_TRUNCATED_IMAGES  # PIL.ImageFile switch, read by Pillow
