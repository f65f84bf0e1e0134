"""Zero-shot evaluation, pure code: ``evaluate`` (torch + open_clip, no Django) and the 80 OpenAI
ImageNet prompt templates as data in ``openai_imagenet_templates.json``. The Django side (requests,
test sets, EvalResult rows) is ``training.services.zeroshot``."""
