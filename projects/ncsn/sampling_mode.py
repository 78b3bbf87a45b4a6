"""--mode=sample: samples from the EMA weights of the latest checkpoint, as .npz, a PNG and their settings.

Files: samples/step_<step>/<method>-n<steps>_<task>_seed<seed>_<digest>.{npz,png,json} (see `output_stem`).

sampling.task: 'unconditional'; 'conditional' (sampling.labels, classifier-free guidance weight
sampling.guidance); 'inpaint' (test-split examples with the sampling.mask region filled in).
Sharded over the mesh: every process draws its own rows of each batch, process 0 writes the files.
"""

import os

import jax
import numpy as np
from absl import logging

from scoresde import project, solvers, viz

from . import components, sampling, state


def _save_npz(stem: str, **arrays) -> None:
    tmp = stem + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, stem + ".npz")


def _value_range(cfg) -> tuple[float, float]:
    return (-1.0 if cfg.data.centered else 0.0, 1.0)


def _steps_part(method: str, fields: dict) -> str:
    """The sampler's length: n<steps>, n<steps>each (annealed Langevin, per level), adaptive, or grid<points>."""
    name = "ts" if "ts" in fields else "sigmas"
    grid = solvers.parse_grid(name, fields.get(name))
    if grid is not None:
        return f"grid{len(grid)}"
    if method == "annealed_langevin":
        return f"n{fields['n_steps_each']}each"
    if method == "ode" and not fields["n_steps"]:
        return "adaptive"
    return f"n{fields['n_steps']}"


def output_settings(cfg) -> tuple[tuple[str, ...], dict]:
    """(the readable parts of the samples' name, every sampling setting they depend on); not sampling.batch_size:
    sample i's noise depends on (seed, i) only."""
    s, name = cfg.sampling, sampling.task(cfg)
    fields = solvers.method_fields(s, s.method)
    settings = {"method": s.method, s.method: fields, "seed": s.seed, "n_samples": s.n_samples, "task": name}
    task_part = "uncond"
    if name == "conditional":
        labels = "all" if str(s.labels).strip() == "all" else "-".join(map(str, sampling.requested_labels(cfg)))
        settings.update(labels=labels, guidance=sampling.guidance_weight(cfg))
        task_part = f"cond-{'all' if labels == 'all' else 'y' + labels}-w{sampling.guidance_weight(cfg):g}"
    elif name == "inpaint":
        settings["mask"] = s.mask
        task_part = f"inpaint-{s.mask}"
    return (f"{s.method}-{_steps_part(s.method, fields)}", task_part, f"seed{s.seed}"), settings


def output_stem(cfg, workdir: str, step: int) -> str:
    """samples/step_<step>/<method>-n<steps>_<task>_seed<seed>_<digest of every sampling setting> (no suffix).

    Runs with other settings (or of another checkpoint) write other files; the same settings replace their own.
    """
    name = project.output_name(*output_settings(cfg))
    return os.path.join(workdir, "samples", project.step_folder(step), name)


def _write_settings(cfg, stem: str, step: int, nfe: int) -> None:
    """<stem>.json: what the digest in the name stands for, the checkpoint step and the NFE per sample."""
    record = {"step": int(step), "nfe": int(nfe), **project.plain_settings(output_settings(cfg)[1])}
    project.write_json_atomic(stem + ".json", record)


def _sample(cfg, model, key, stem: str, mesh):
    n = cfg.sampling.n_samples
    conditional = sampling.task(cfg) == "conditional"
    labels = sampling.task_labels(cfg, n) if conditional else None
    w = sampling.guidance_weight(cfg)
    x, nfe = sampling.generate(cfg, model, key, n, mesh, labels=labels, guidance_w=w)
    if jax.process_index() != 0:
        return x, nfe
    os.makedirs(os.path.dirname(stem), exist_ok=True)
    extra = {"labels": labels, "guidance": w} if conditional else {}
    _save_npz(stem, samples=x, nfe=nfe, **extra)
    if cfg.data.name == "toy2d":
        ref = components.load_examples(cfg, "test")["image"]
        title = f"samples, labels {cfg.sampling.labels}, guidance {w:g}" if conditional else "samples"
        viz.scatter_panels({"data": ref[: len(x)], title: x}, stem + ".png", lim=cfg.data.get("plot_lim", 6.0))
    else:
        # conditional: one column per requested label, so each column is one class
        ncols = len(sampling.requested_labels(cfg)) if conditional else None
        viz.image_grid(x[:100], stem + ".png", ncols=ncols, value_range=_value_range(cfg))
    return x, nfe


def _inpaint(cfg, model, key, stem: str, mesh):
    test = components.load_examples(cfg, "test")
    n = min(cfg.sampling.n_samples, len(test["image"]))
    original = components.to_model_layout(test["image"][:n], cfg)
    x, keep, nfe = sampling.inpaint(cfg, model, key, original, mesh)
    if jax.process_index() != 0:
        return x, nfe
    os.makedirs(os.path.dirname(stem), exist_ok=True)
    lo, hi = _value_range(cfg)
    known = np.where(keep, original, np.float32((lo + hi) / 2))  # unknown entries shown mid-grey
    _save_npz(stem, samples=x, known=known, mask=keep, original=original, labels=test["label"][:n], nfe=nfe)
    if cfg.data.name == "toy2d":
        panels = {"test data": original, f"completions ({cfg.sampling.mask} filled in)": x}
        viz.scatter_panels(panels, stem + ".png", lim=cfg.data.get("plot_lim", 6.0))
    else:
        # each triplet: masked input | completion | original; four triplets per row
        k = min(n, 32)
        triplets = np.stack([known[:k], x[:k], original[:k]], axis=1).reshape(3 * k, *x.shape[1:])
        viz.image_grid(triplets, stem + ".png", ncols=3 * min(k, 4), value_range=(lo, hi))
    return x, nfe


def run(cfg, workdir, mesh):
    model, step = state.restore_ema_model(cfg, workdir, mesh)
    key = jax.random.key(cfg.sampling.seed)
    out = output_stem(cfg, workdir, step)
    inpainting = sampling.task(cfg) == "inpaint"
    x, nfe = (_inpaint if inpainting else _sample)(cfg, model, key, out, mesh)
    if jax.process_index() == 0:
        _write_settings(cfg, out, step, nfe)
        logging.info("wrote %d samples (NFE %d) to %s.npz, .png and .json (settings)", len(x), nfe, out)
        print(f"samples: {out}.npz  picture: {out}.png  NFE per sample: {nfe}")
    return x
