"""The optimiser from a config: Adam/AdamW with linear warm-up and global-norm clipping (score_sde's recipe)."""

import optax

OPTIMIZERS = ("adam", "adamw")


def make_optimizer(cfg) -> optax.GradientTransformation:
    """cfg fields: optimizer ('adam'|'adamw'), lr, beta1, beta2, eps, weight_decay, warmup, grad_clip (<=0: off)."""
    name = cfg.get("optimizer", "adam").lower()
    if name not in OPTIMIZERS:
        raise ValueError(f"optim.optimizer={name!r} is not one of {', '.join(map(repr, OPTIMIZERS))}")
    lr = cfg.get("lr", 2e-4)
    if not lr > 0:
        raise ValueError(f"optim.lr must be positive, got {lr}")
    warmup = int(cfg.get("warmup", 0))
    schedule = optax.linear_schedule(0.0, lr, warmup) if warmup > 0 else optax.constant_schedule(lr)
    kw = dict(b1=cfg.get("beta1", 0.9), b2=cfg.get("beta2", 0.999), eps=cfg.get("eps", 1e-8))
    if name == "adam":
        opt = optax.adam(schedule, **kw)
    else:
        opt = optax.adamw(schedule, weight_decay=cfg.get("weight_decay", 0.0), **kw)
    clip = cfg.get("grad_clip", 1.0)
    return optax.chain(optax.clip_by_global_norm(clip), opt) if clip and clip > 0 else opt


def learning_rate(cfg, step):
    """The scheduled learning rate at `step` (for logging)."""
    lr, warmup = cfg.get("lr", 2e-4), int(cfg.get("warmup", 0))
    return lr * min(1.0, step / warmup) if warmup > 0 else lr
