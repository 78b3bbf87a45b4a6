"""Defaults shared by every SD-flow config; each config file starts from base_config() and changes a few fields.

Sources and targets: 'gaussian' (N(0, source.std^2 I) in the other side's shape), a 2-D toy
('25gaussians', 'swissroll', '8gaussians', 'moons', 'rings', 'two_modes'), 'digits', 'cifar10'.
"""

from ml_collections import ConfigDict


def base_config() -> ConfigDict:
    c = ConfigDict()
    c.seed = 0
    c.source = ConfigDict(dict(name="gaussian", std=1.0, path=""))
    c.target = ConfigDict(dict(name="25gaussians", n=2000, n_test=2000, path=""))
    c.flow = ConfigDict(
        dict(
            method="particles",  # particles: move samples | generator: train G(z) onto SD-flow-updated points
            n_particles=2000,
            sigma_max=2.0,  # geometric schedule sigma_max -> sigma_min over n_levels ...
            sigma_min=0.05,
            n_levels=20,
            sigmas="",  # ... or an explicit comma-separated, strictly decreasing list, e.g. "2,1,0.5"
            steps_per_level=20,
            eta=0.5,
            step_scaling="sigma2",  # sigma2: step eta*sigma^2 (x += eta (m_p - m_q)) | constant: step eta
            noise=0.0,  # gamma: x += step v + sqrt(2 gamma step) xi
            chunk_size=1024,  # kernel proxies: samples per chunk of the streaming log-sum-exp
            query_chunk=1024,  # kernel proxies: particles per chunk
            n_trajectories=64,  # 2-D: particles whose paths are drawn
        )
    )
    c.proxy = ConfigDict(dict(target="kernel", source="kernel"))  # target: kernel|learned|exact; source: kernel|learned
    c.learned = ConfigDict(
        dict(
            width=256,  # 128 was 1.62/1.93/1.78x data-vs-data on 25 Gaussians (seeds 0/1/2), 256: 1.22/1.76/1.47x
            depth=3,
            n_steps=3000,  # DSM steps on the target (and on the source) in --mode=train
            batch_size=256,
            n_sigmas=30,  # training noise ladder spans [sigma_min / 2, 2 sigma_max]
            refit_steps=10,  # source net: DSM steps on the moving particles ...
            refit_every=1,  # ... before every refit_every flow steps (0: once per level)
            refit_batch=0,  # particles per refit step (0: all)
            ema_rate=0.99,
            log_every=500,
            checkpoint_every=1000,
        )
    )
    c.optim = ConfigDict(
        dict(optimizer="adam", lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, warmup=100, grad_clip=1.0)
    )
    c.refit_optim = ConfigDict(
        dict(optimizer="adam", lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, warmup=0, grad_clip=1.0)
    )
    c.generator = ConfigDict(
        dict(
            width=256,
            depth=3,
            activation="relu",
            # kernel source proxy = the batch itself: keep it as large as target.n, or the q proxy (rougher,
            # its self-term weighs 1/batch) is biased against p's and G piles mass at the support's edges
            batch_size=2000,
            steps_per_level=300,
            log_every=500,
            checkpoint_every=1000,
        )
    )
    c.eval = ConfigDict(dict(n_projections=256, mmd_bandwidth=0.5, kl_samples=4, levels_to_plot=5))
    c.plot_lim = 6.0
    c.parallel = ConfigDict(dict(fsdp=1))
    return c
