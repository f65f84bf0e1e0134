"""FT hyperparameter presets (no torch: the run page imports them).

``released`` (the default) is the released code's recipe; ``paper`` the paper's text. Both fit
with open_clip's training transform and validate and score with the eval transform.
"""
from __future__ import annotations

from typing import Any

FT_PRESETS: dict[str, dict[str, Any]] = {
    "paper": {"lr": 0.1, "momentum": 0.0, "weight_decay": 5e-4, "batch_size": 256, "epochs": 50,
              "step_size": 20, "gamma": 0.1, "train_transform": "train"},
    "released": {"lr": 0.01, "momentum": 0.9, "weight_decay": 5e-4, "batch_size": 256, "epochs": 50,
                 "step_size": 12, "gamma": 0.1, "train_transform": "train"},
}
DEFAULT_FT_PRESET = "released"
# "train": open_clip's training transform (augmentation) while fitting, the eval transform for
# validation and scoring, as the released code does; "eval": no augmentation (a departure).
TRAIN_TRANSFORMS = ("train", "eval")
FT_PRESET_NOTES = {
    "released": "the released code: SGD lr 0.01, momentum 0.9, weight decay 5e-4, batch 256, 50 epochs, "
                "lr x0.1 every 12; best checkpoint by validation loss (default)",
    "paper": "the paper's text: SGD lr 0.1, weight decay 5e-4, batch 256, 50 epochs, lr x0.1 every 20",
}
