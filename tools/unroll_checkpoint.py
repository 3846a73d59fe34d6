#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Read and write unroll checkpoints from Python (h5py + numpy), following docs/checkpoint-format.md.

Used by tools/read_checkpoint_check.py, tools/unroll_to_torch.py and tools/torch_to_unroll.py.
Requirements: Debian 12's python3-h5py and python3-numpy.

    ckpt = read_checkpoint("model.h5")        # verifies the header CRC and the payload checksum
    ckpt["params"]                            # OrderedDict: parameter path -> numpy array
    ckpt["config"]                            # the model config (JSON value)
    write_checkpoint("out.h5", params, config)  # atomic: temp file, fsync, rename
"""
import collections
import datetime
import json
import os
import struct
import zlib

import h5py
import numpy as np

FORMAT = "unroll-checkpoint"
FORMAT_VERSION = 1
HEADER_BYTES = 512
MAGIC = b"UNROLLCK"
HEADER_LAYOUT = 1
ROOT_ATTRS = ("format", "format_version", "library_version", "created", "checksum")


class CheckpointError(Exception):
    pass


# ---- header (the HDF5 user block) ----

def verify_header(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != MAGIC:
        raise CheckpointError("%s: no unroll header (not written by unroll)" % path)
    if len(data) < HEADER_BYTES:
        raise CheckpointError("%s: truncated: %d bytes" % (path, len(data)))
    layout, crc, size = struct.unpack_from("<IIQ", data, 8)
    (header_crc,) = struct.unpack_from("<I", data, 24)
    if zlib.crc32(data[:24]) != header_crc:
        raise CheckpointError("%s: header block corrupted" % path)
    if layout != HEADER_LAYOUT:
        raise CheckpointError("%s: header layout %d is newer than this tool reads" % (path, layout))
    if size != len(data):
        raise CheckpointError("%s: header records %d bytes but the file has %d" % (path, size, len(data)))
    got = zlib.crc32(data[HEADER_BYTES:])
    if got != crc:
        raise CheckpointError("%s: CRC-32 %08x but the header records %08x" % (path, got, crc))


def stamp_header(path):
    """Write the 512-byte unroll header into the user block of a closed HDF5 file, then fsync."""
    with open(path, "r+b") as f:
        f.seek(HEADER_BYTES)
        crc = 0
        size = HEADER_BYTES
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                break
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
        head = MAGIC + struct.pack("<IIQ", HEADER_LAYOUT, crc, size)
        head += struct.pack("<I", zlib.crc32(head))
        f.seek(0)
        f.write(head + b"\0" * (HEADER_BYTES - len(head)))
        f.flush()
        os.fsync(f.fileno())


# ---- payload checksum ----

def _value_bytes(value):
    """(shape string, bytes) of a dataset value or attribute, as the checksum defines them."""
    if isinstance(value, str):
        return "[]", value.encode("utf-8")
    if isinstance(value, bytes):
        return "[]", value
    arr = np.asarray(value)
    if arr.dtype.kind in "OSU":
        v = arr.item()
        return "[]", v.encode("utf-8") if isinstance(v, str) else bytes(v)
    shape = "[" + ",".join(str(d) for d in arr.shape) + "]"
    return shape, np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()


def payload_items(f):
    """Every dataset and every non-root attribute: list of (path, attr, value)."""
    items = []
    objects = [("/", f)]
    f.visititems(lambda name, obj: objects.append(("/" + name, obj)))
    for path, obj in objects:
        if path != "/":
            for attr, value in obj.attrs.items():
                items.append((path, attr, value))
        if isinstance(obj, h5py.Dataset):
            items.append((path, "", obj[()]))
    return items


def payload_checksum(items):
    crc = 0
    for path, attr, value in sorted(items, key=lambda it: (it[0].encode(), it[1].encode())):
        shape, data = _value_bytes(value)
        crc = zlib.crc32((path + "\0" + attr + "\0" + shape + "\0").encode("utf-8"), crc)
        crc = zlib.crc32(data, crc)
    return "crc32:%08x" % crc


# ---- reading ----

def walk_datasets(group):
    """(relative path, dataset) below `group`, depth-first, each group's links in creation order when the
    file tracks it (unroll's files do), a group's datasets before its subgroups -- the order unroll reads."""
    out = []
    stack = [("", group)]
    while stack:
        prefix, g = stack.pop()
        subgroups = []
        for name in g:  # h5py iterates in creation order for groups that track it
            obj = g[name]
            if isinstance(obj, h5py.Dataset):
                out.append((prefix + name, obj))
            else:
                subgroups.append((prefix + name + "/", obj))
        stack.extend(reversed(subgroups))
    return out


def _str(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def read_checkpoint(path):
    """Verify and read a checkpoint. Returns a dict with params (OrderedDict path -> array), config,
    optimizer (or None), rng (or None), trainer, scaler, extra, and the root attributes."""
    verify_header(path)
    with h5py.File(path, "r") as f:
        root = {k: (_str(v) if isinstance(v, (str, bytes)) else int(v)) for k, v in f.attrs.items()}
        if root.get("format") != FORMAT:
            raise CheckpointError("%s: format is %r, not %r" % (path, root.get("format"), FORMAT))
        if root.get("format_version", 0) > FORMAT_VERSION:
            raise CheckpointError("%s: format_version %s is newer than this tool reads" % (path, root["format_version"]))
        computed = payload_checksum(payload_items(f))
        if computed != root.get("checksum"):
            raise CheckpointError("%s: payload checksum %s but the file records %s" % (path, computed, root.get("checksum")))
        params = collections.OrderedDict()
        if "params" in f:
            for name, obj in walk_datasets(f["params"]):
                params[name] = obj[()]
        optimizer = None
        if "optimizer" in f:
            o = f["optimizer"]
            slots = collections.OrderedDict()
            if "slots" in o:
                for name, obj in walk_datasets(o["slots"]):
                    param, slot = name.rsplit("/", 1)
                    slots.setdefault(param, collections.OrderedDict())[slot] = obj[()]
            optimizer = {"kind": _str(o.attrs["kind"]), "hyper": json.loads(_str(o.attrs["hyper"])),
                         "step": int(o.attrs["step"]), "slots": slots}
        trainer = {}
        if "trainer" in f:
            t = f["trainer"]
            trainer = {k: int(v) for k, v in t.attrs.items()}
            for k in ("schedule", "history"):
                if k in t:
                    trainer[k] = json.loads(_str(t[k][()]))
        return {
            "root": root,
            "config": json.loads(_str(f["model/config"][()])),
            "params": params,
            "optimizer": optimizer,
            "rng": [int(x) for x in f["rng/state"][()]] if "rng/state" in f else None,
            "trainer": trainer,
            "scaler": json.loads(_str(f["data/scaler"][()])) if "data/scaler" in f else None,
            "extra": json.loads(_str(f["extra"][()])) if "extra" in f else None,
        }


# ---- writing ----

def write_checkpoint(path, params, config, scaler=None, extra=None, library_version="python-tools"):
    """Write a checkpoint holding `params` (ordered mapping path -> float32/float64 array) and `config`,
    atomically (temp file in the same folder, fsync, rename, fsync the folder)."""
    h5py.get_config().track_order = True  # groups keep creation order, as unroll writes them
    tmp = "%s.tmp-%d" % (path, os.getpid())

    def fixed(text):
        # Fixed-length UTF-8 (unroll refuses variable-length strings; docs/checkpoint-format.md).
        data = text.encode("utf-8")
        return np.array(data, dtype="S%d" % (len(data) + 1))

    try:
        with h5py.File(tmp, "w", userblock_size=HEADER_BYTES, track_order=True) as f:
            f.create_dataset("model/config", data=fixed(json.dumps(config)))
            for name, value in params.items():
                arr = np.ascontiguousarray(value)
                if arr.dtype not in (np.float32, np.float64):
                    raise CheckpointError("parameter %s has dtype %s; unroll stores float32 or float64" % (name, arr.dtype))
                f.create_dataset("params/" + name, data=arr.astype(arr.dtype.newbyteorder("<")))
            t = f.create_group("trainer")
            for k in ("epoch", "step", "data_cursor"):
                t.attrs.create(k, 0, dtype=np.int64)
            t.attrs.create("shuffle_seed", 0, dtype=np.uint64)
            t.create_dataset("schedule", data=fixed("null"))
            t.create_dataset("history", data=fixed("null"))
            f.create_dataset("data/scaler", data=fixed(json.dumps(scaler)))
            f.create_dataset("extra", data=fixed(json.dumps(extra)))
            checksum = payload_checksum(payload_items(f))
            f.attrs.create("format", fixed(FORMAT))
            f.attrs.create("format_version", FORMAT_VERSION, dtype=np.int64)
            f.attrs.create("library_version", fixed(library_version))
            f.attrs.create("created", fixed(datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")))
            f.attrs.create("checksum", fixed(checksum))
        stamp_header(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    dir_fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
