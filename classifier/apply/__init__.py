"""Applying domain classifiers at web scale: pure, Django-free pieces.

- ``shards``: brace/glob expansion and img2dataset tar reading;
- ``uids``: uid derivation and DataComp ``u8,u8`` id lists;
- ``scoring``: the two-head domain rule;
- ``process``: ``process_shard`` (tar -> parquet of scores), ``process_embeddings``;
- ``summary``: Table 7 counts and subset id lists;
- ``reshard``: webdataset shards of a subset for OpenCLIP;
- ``clean``: test-set cleaning and Table 12 counts.
"""
from __future__ import annotations

from classifier.apply.process import SCHEMA, ShardCancelled, ShardResult, process_embeddings, process_shard
from classifier.apply.scoring import HeadPair, LinearHead, Thresholds, assign_domains
from classifier.apply.shards import CorruptShardError, ShardPatternError, expand_shards, iter_samples
from classifier.apply.uids import UID_DTYPE, derive_uid, load_uid_list, save_uid_list

__all__ = [
    "SCHEMA", "UID_DTYPE", "CorruptShardError", "HeadPair", "LinearHead", "ShardCancelled", "ShardPatternError",
    "ShardResult", "Thresholds", "assign_domains", "derive_uid", "expand_shards", "iter_samples",
    "load_uid_list", "process_embeddings", "process_shard", "save_uid_list",
]
