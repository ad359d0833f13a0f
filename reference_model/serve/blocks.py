"""KV-cache blocks: allocation with reference counts, and the prefix cache over full blocks.

The cache is ``n_blocks`` blocks of ``block_size`` token slots. A sequence holds a block table
(its blocks in order); a block may be held by several sequences at once when they share a prefix.
A full block whose keys and values are computed is *registered* under a digest of its tokens and
of all tokens before it (a hash chain), so a later sequence with the same prefix takes the block
instead of recomputing it. When the last holder lets go of a registered block, the block stays
cached (evictable, least recently released first) until a fresh block is needed.

A registered block may also carry the prompt log-probs of its positions (``meta``): a token's
log-prob depends only on the tokens up to it, which the block's digest covers, so an echo request
reusing the block gets them without running those positions again.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

ROOT = b""  # the digest "before" the first block


def block_digest(parent: bytes, tokens: list[int] | tuple[int, ...]) -> bytes:
    h = hashlib.blake2b(parent, digest_size=16)
    h.update(b",".join(str(t).encode() for t in tokens))
    return h.digest()


class BlockAllocator:
    def __init__(self, n_blocks: int, enable_prefix_cache: bool = True):
        self.n_blocks = n_blocks
        self.enable_prefix_cache = enable_prefix_cache
        self.free: list[int] = list(range(n_blocks - 1, -1, -1))  # never registered (or evicted): pop() is block 0 first
        self.refs = [0] * n_blocks
        self.evictable: OrderedDict[int, None] = OrderedDict()  # registered, unheld; oldest release first
        self.by_digest: dict[bytes, int] = {}
        self.digest_of: dict[int, bytes] = {}
        self.meta: dict[int, Any] = {}
        self.hits = 0  # blocks served from the prefix cache
        self.queries = 0  # blocks looked up

    # -- accounting ------------------------------------------------------------------------------
    def num_available(self) -> int:
        return len(self.free) + len(self.evictable)

    def num_used(self) -> int:
        """Blocks some sequence holds (cached-but-unheld blocks are free for the taking)."""
        return self.n_blocks - self.num_available()

    # -- allocation ------------------------------------------------------------------------------
    def allocate(self) -> int | None:
        if self.free:
            block = self.free.pop()
        elif self.evictable:
            block, _ = self.evictable.popitem(last=False)
            self._unregister(block)
        else:
            return None
        self.refs[block] = 1
        return block

    def release(self, block: int) -> None:
        self.refs[block] -= 1
        if self.refs[block] > 0:
            return
        if block in self.digest_of:
            self.evictable[block] = None
        else:
            self.free.append(block)

    def _unregister(self, block: int) -> None:
        digest = self.digest_of.pop(block, None)
        if digest is not None and self.by_digest.get(digest) == block:
            del self.by_digest[digest]
        self.meta.pop(block, None)

    # -- prefix cache ----------------------------------------------------------------------------
    def lookup(self, digest: bytes, need_meta: bool) -> int | None:
        """The registered block for ``digest`` (now held once more), or None."""
        if not self.enable_prefix_cache:
            return None
        self.queries += 1
        block = self.by_digest.get(digest)
        if block is None or (need_meta and block not in self.meta):
            return None
        if self.refs[block] == 0:
            del self.evictable[block]
        self.refs[block] += 1
        self.hits += 1
        return block

    def register(self, block: int, digest: bytes, meta: Any = None) -> None:
        """``block`` (full, computed) is the block for ``digest``; a block with log-prob meta
        replaces one without."""
        if not self.enable_prefix_cache or block in self.digest_of:
            return
        current = self.by_digest.get(digest)
        if current is not None and (meta is None or current in self.meta):
            return
        if current is not None:  # the new block carries the log-probs the old one lacks
            del self.digest_of[current]
            if self.refs[current] == 0:
                del self.evictable[current]
                self.free.append(current)
        self.by_digest[digest] = block
        self.digest_of[block] = digest
        if meta is not None:
            self.meta[block] = meta
