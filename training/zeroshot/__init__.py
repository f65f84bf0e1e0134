"""Zero-shot evaluation: pure code in ``evaluate`` (torch + open_clip, no Django), the Django side
in ``service``, the 80 OpenAI ImageNet prompt templates as data in ``openai_imagenet_templates.json``."""
