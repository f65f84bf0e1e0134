"""OpenAPI post-processing: fields that only researchers and admins receive.

Some reads answer by role (labeling.api: an annotator's campaign, dataset and image carry fewer
fields than a researcher's). The schema documents the researcher's shape; this hook marks the
fields an annotator does not get as optional, so the schema describes every role's answer (the
fuzz test validates each role's responses against it)."""
from __future__ import annotations

from typing import Any

# component -> fields absent from an annotator's answer (labeling.api.campaigns / datasets)
ROLE_DEPENDENT_FIELDS = {
    "CampaignResearcherOutput": ("members", "member_groups"),
    "DatasetOut": ("expected_domain", "description", "class_set"),
    "ImageOut": ("dataset", "uid", "key", "source", "caption", "class_name", "intended_domain", "meta"),
}
NOTE = " Researchers and admins only: annotators do not receive it."


def researcher_only_fields_optional(result: dict[str, Any], **_: Any) -> dict[str, Any]:
    schemas = result.get("components", {}).get("schemas", {})
    for component, fields in ROLE_DEPENDENT_FIELDS.items():
        schema = schemas.get(component)
        if schema is None:
            continue
        schema["required"] = [name for name in schema.get("required", []) if name not in fields]
        if not schema["required"]:
            del schema["required"]
        for name in fields:
            prop = schema.get("properties", {}).get(name)
            if prop is not None:
                prop["description"] = (prop.get("description", "") + NOTE).strip()
    return result
