"""Small numpy helpers shared by the methods and the embedder (no torch: cheap to import)."""
from __future__ import annotations

import numpy as np


def l2_normalize(features: np.ndarray) -> np.ndarray:
    """Float32 rows of unit length; all-zero rows (failed decodes) stay zero."""
    x = np.asarray(features, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)
