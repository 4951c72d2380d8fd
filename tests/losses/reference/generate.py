"""Writes the reference values that the loss conformance test checks.

Each case feeds fixed random inputs to a reference implementation and
stores the inputs (in the Keras layout, channels last) with the value it
computes, one `<case>.npz` per case, and `sources.json` with the versions
and commits of the references. `tests/losses/test_reference_fixtures.py`
then checks every registered loss against them without importing torch.

Not run by the suite, which has no PyTorch. Run it by hand when a loss or
a reference changes, in an environment of its own (argparse, not absl:
it needs nothing beyond these):

    python -m venv ref && ref/bin/pip install torch torchdistill numpy
    git clone https://github.com/megvii-research/mdistiller
    git clone https://github.com/sunshangquan/logit-standardization-KD
    ref/bin/python tests/losses/reference/generate.py \
        --mdistiller=mdistiller --logit_std=logit-standardization-KD

References: torchdistill (the package) for KD, attention transfer at one
size, FitNets, RKD, PKT and ReviewKD's hierarchical context loss; the
papers' released code for DKD and ReviewKD's fusion (mdistiller, the DKD
authors') and for logit standardization (its authors' fork of
mdistiller); mdistiller's `at_loss` for attention transfer across sizes
(torchdistill's compares maps of one size only) and its `sp_loss` for SP
(torchdistill's SPKDLoss normalizes the rows of the Gram matrix by their
L1 norm, `normalize(G, 1)`; the paper and mdistiller by their L2 norm).
The values are computed in float64.
"""

import argparse
import importlib.metadata
import json
import pathlib
import subprocess
import types

import numpy as np
import torch
import torch.nn.functional as F
from torchdistill.losses import mid_level

HERE = pathlib.Path(__file__).parent


def load_distiller_module(repo, name):
    """`mdistiller/distillers/<name>.py` of a checkout, as a module. Its
    package-relative imports (the training-loop base class, the
    regressors) are not needed by the loss functions and are replaced."""
    path = pathlib.Path(repo) / "mdistiller" / "distillers" / f"{name}.py"
    source = path.read_text()
    source = source.replace(
        "from ._base import Distiller", "Distiller = torch.nn.Module"
    ).replace(
        "from ._common import ConvReg, get_feat_shapes",
        "ConvReg = get_feat_shapes = None",
    )
    module = types.ModuleType(f"reference_{name}")
    module.__dict__["torch"] = torch
    exec(compile(source, str(path), "exec"), module.__dict__)
    return module


def commit(repo):
    try:
        return subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"


def nchw(x):
    """A channels-last float32 array as a float64 NCHW tensor."""
    x = torch.from_numpy(np.asarray(x, np.float64))
    return x.permute(0, 3, 1, 2).contiguous() if x.ndim == 4 else x


def io(**tensors):
    """torchdistill's io_dict: {module path: {"output": tensor}}."""
    return {k: {"output": v} for k, v in tensors.items()}


def logits_case(rng, batch=16, classes=10):
    s = rng.normal(0, 3, (batch, classes)).astype(np.float32)
    t = rng.normal(0, 3, (batch, classes)).astype(np.float32)
    y = rng.integers(0, classes, batch)
    return s, t, y


def maps(rng, *shape):
    return rng.normal(0, 1, shape).astype(np.float32)


def cases(md, ls):
    """`{case: (arrays, reference value, source)}`."""
    rng = np.random.default_rng(20261203)
    out = {}

    s, t, y = logits_case(rng)
    kd = mid_level.KDLoss("s", "output", "t", "output", 4.0, alpha=0.0)
    value = kd(io(s=nchw(s)), io(t=nchw(t)))  # KL, batch mean, no τ²
    out["kd"] = ({"s": s, "t": t}, value, "torchdistill KDLoss, τ 4")

    s, t, y = logits_case(rng)
    value = ls["KD"].kd_loss(nchw(s), nchw(t), 2.0, True)
    out["kd_ls"] = ({"s": s, "t": t}, value, "logit-std kd_loss, τ 2")

    for name, module, standardize in (
        ("dkd", md["DKD"], False),
        ("dkd_ls", ls["DKD"], True),
    ):
        s, t, y = logits_case(rng)
        args = (nchw(s), nchw(t), torch.from_numpy(y), 1.0, 8.0, 4.0)
        value = module.dkd_loss(*args, *((True,) if standardize else ()))
        out[name] = (
            {"s": s, "t": t, "y": y},
            value,
            ("logit-std" if standardize else "mdistiller")
            + " dkd_loss, α 1, β 8, τ 4",
        )

    pairs = [(maps(rng, 8, 8, 8, 6), maps(rng, 8, 8, 8, 4))]
    pairs.append((maps(rng, 8, 4, 4, 5), maps(rng, 8, 4, 4, 3)))
    at = mid_level.ATLoss(
        {
            f"pair{i}": {
                "teacher": {"path": f"t{i}", "io": "output"},
                "student": {"path": f"s{i}", "io": "output"},
            }
            for i in range(len(pairs))
        },
        mode="code",
    )
    value = at(
        {f"s{i}": {"output": nchw(p[1])} for i, p in enumerate(pairs)},
        {f"t{i}": {"output": nchw(p[0])} for i, p in enumerate(pairs)},
    )
    arrays = {f"t{i}": p[0] for i, p in enumerate(pairs)}
    arrays.update({f"s{i}": p[1] for i, p in enumerate(pairs)})
    out["at"] = (arrays, value, "torchdistill ATLoss, mode code")

    # Non-integer size ratios: 6x6 teacher, 4x4 student; 4x4 teacher, 7x7
    # student.
    pairs = [(maps(rng, 8, 6, 6, 4), maps(rng, 8, 4, 4, 3))]
    pairs.append((maps(rng, 8, 4, 4, 4), maps(rng, 8, 7, 7, 2)))
    value = md["AT"].at_loss(
        [nchw(p[1]) for p in pairs], [nchw(p[0]) for p in pairs], 2
    )
    arrays = {f"t{i}": p[0] for i, p in enumerate(pairs)}
    arrays.update({f"s{i}": p[1] for i, p in enumerate(pairs)})
    out["at_resized"] = (arrays, value, "mdistiller at_loss, p 2")

    # FitNets with an identity connector: the regressed student map is
    # the student map itself.
    t, s = maps(rng, 8, 4, 4, 6), maps(rng, 8, 4, 4, 6)
    mse = mid_level.SimpleLossWrapper(
        torch.nn.MSELoss(),
        input={"is_from_teacher": False, "module_path": "s", "io": "output"},
        target={"is_from_teacher": True, "module_path": "t", "io": "output"},
    )
    value = mse(io(s=nchw(s)), io(t=nchw(t)), None)
    out["hint"] = ({"t": t, "s": s}, value, "torchdistill MSELoss wrapper")
    t, s = maps(rng, 8, 6, 6, 6), maps(rng, 8, 4, 4, 6)
    value = F.mse_loss(nchw(s), F.adaptive_avg_pool2d(nchw(t), (4, 4)))
    out["hint_resized"] = (
        {"t": t, "s": s},
        value,
        "torch adaptive_avg_pool2d of the teacher map, then mse_loss",
    )

    t, s = maps(rng, 16, 24), maps(rng, 16, 12)
    rkd = mid_level.RKDLoss("s", "t", 25.0, 50.0, reduction="mean")
    value = rkd(io(s=nchw(s)), io(t=nchw(t)))
    out["rkd"] = ({"t": t, "s": s}, value, "torchdistill RKDLoss, 25, 50")

    t, s = maps(rng, 16, 4, 4, 8), maps(rng, 16, 2, 2, 6)
    # mdistiller, not torchdistill: torchdistill's SPKDLoss calls
    # `normalize(G, 1)`, whose second argument is the norm's order p, so
    # it divides each row of G by its L1 norm; the paper (and mdistiller)
    # divides by the L2 norm.
    value = md["SP"].sp_loss([nchw(s)], [nchw(t)])
    out["sp"] = ({"t": t, "s": s}, value, "mdistiller sp_loss")

    t, s = maps(rng, 16, 20), maps(rng, 16, 10)
    pkt = mid_level.PKTLoss("s", "output", "t", "output")
    value = pkt(io(s=nchw(s)), io(t=nchw(t)))
    out["pkt"] = ({"t": t, "s": s}, value, "torchdistill PKTLoss")

    for h, w in ((8, 8), (8, 4), (4, 8), (7, 7)):
        t, s = maps(rng, 4, h, w, 3), maps(rng, 4, h, w, 3)
        hcl = mid_level.HierarchicalContextLoss("s", "output", "t", "output")
        value = hcl(
            {"s": {"output": (nchw(s), None)}}, {"t": {"output": nchw(t)}}
        )
        out[f"hcl_{h}x{w}"] = (
            {"t": t, "s": s},
            value,
            "torchdistill HierarchicalContextLoss",
        )

    out["review_kd"] = review_kd_case(rng, md["ReviewKD"])
    return out


def review_kd_case(rng, reference):
    """ReviewKD's fusion chain with random weights and batch-norm
    statistics (inference mode), then mdistiller's `hcl_loss`."""
    student = [maps(rng, 4, 8, 8, 3), maps(rng, 4, 4, 4, 5)]
    student.append(maps(rng, 4, 2, 2, 6))
    teacher = [maps(rng, 4, 8, 8, 4), maps(rng, 4, 4, 4, 6)]
    teacher.append(maps(rng, 4, 2, 2, 7))
    mid = 6  # min(512, the deepest student map's channels)
    arrays = {f"s{i}": m for i, m in enumerate(student)}
    arrays.update({f"t{i}": m for i, m in enumerate(teacher)})
    results, residual = [None] * 3, None
    for i in reversed(range(3)):
        fuse = i < 2
        abf = reference.ABF(
            student[i].shape[-1], mid, teacher[i].shape[-1], fuse
        )
        abf = abf.double().eval()
        weights = {
            "reduce": rng.normal(0, 0.5, (1, 1, student[i].shape[-1], mid)),
            "expand": rng.normal(0, 0.2, (3, 3, mid, teacher[i].shape[-1])),
        }
        if fuse:
            weights["attention"] = rng.normal(0, 0.5, (1, 1, 2 * mid, 2))
            weights["attention_bias"] = rng.normal(0, 0.5, (2,))
        for conv, key in ((abf.conv1[0], "reduce"), (abf.conv2[0], "expand")):
            conv.weight.data = torch.from_numpy(
                weights[key].transpose(3, 2, 0, 1).copy()
            )
        if fuse:
            abf.att_conv[0].weight.data = torch.from_numpy(
                weights["attention"].transpose(3, 2, 0, 1).copy()
            )
            abf.att_conv[0].bias.data = torch.from_numpy(
                weights["attention_bias"]
            )
        for bn, key in (
            (abf.conv1[1], "reduce_bn"),
            (abf.conv2[1], "expand_bn"),
        ):
            n = bn.num_features
            stats = np.stack(
                [
                    rng.uniform(0.5, 1.5, n),  # gamma
                    rng.normal(0, 0.3, n),  # beta
                    rng.normal(0, 0.3, n),  # moving mean
                    rng.uniform(0.5, 1.5, n),  # moving variance
                ]
            )
            bn.weight.data, bn.bias.data = (
                torch.from_numpy(v) for v in stats[:2]
            )
            bn.running_mean.data = torch.from_numpy(stats[2])
            bn.running_var.data = torch.from_numpy(stats[3])
            weights[key] = stats
        for key, value in weights.items():
            arrays[f"fusion{i}_{key}"] = np.asarray(value, np.float32)
        size = student[i].shape[1]
        with torch.no_grad():
            if fuse:
                results[i], residual = abf(
                    nchw(student[i]), residual, size, size
                )
            else:
                results[i], residual = abf(nchw(student[i]), out_shape=size)
    value = reference.hcl_loss(results, [nchw(m) for m in teacher])
    return arrays, value, "mdistiller ABF (3 levels) and hcl_loss"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mdistiller", required=True, help="checkout")
    parser.add_argument("--logit_std", required=True, help="checkout")
    parser.add_argument("--out_dir", default=str(HERE))
    args = parser.parse_args()
    md = {
        n: load_distiller_module(args.mdistiller, n)
        for n in ("AT", "DKD", "ReviewKD", "SP")
    }
    ls = {n: load_distiller_module(args.logit_std, n) for n in ("KD", "DKD")}
    out_dir = pathlib.Path(args.out_dir)
    sources = {
        "torch": torch.__version__,
        "torchdistill": importlib.metadata.version("torchdistill"),
        "mdistiller": commit(args.mdistiller),
        "logit-standardization-KD": commit(args.logit_std),
        "cases": {},
    }
    for name, (arrays, value, source) in cases(md, ls).items():
        value = float(torch.as_tensor(value).sum())
        np.savez(out_dir / f"{name}.npz", reference=np.float64(value), **arrays)
        sources["cases"][name] = {"reference": source, "value": value}
        print(f"{name}: {value:.8g}  ({source})")
    (out_dir / "sources.json").write_text(json.dumps(sources, indent=1) + "\n")


if __name__ == "__main__":
    main()
