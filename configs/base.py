"""Defaults shared by every NCSN / Score-SDE config; each config file starts from base_config()."""

from ml_collections import ConfigDict

from scoresde import solvers


def base_config() -> ConfigDict:
    c = ConfigDict()
    c.seed = 0

    c.data = ConfigDict(
        dict(
            name="digits",  # toy2d | digits | cifar10 | image_folder
            path="",  # cifar10 archive / extracted folder, or the image folder
            image_size=8,
            num_channels=1,
            centered=True,  # model sees [-1, 1] (else [0, 1])
            random_flip=False,
            toy="25gaussians",  # toy2d: which distribution
            n_train=20000,
            n_test=5000,
            plot_lim=6.0,
        )
    )
    c.sde = ConfigDict(dict(name="vp", sigma_min=0.01, sigma_max=50.0, beta_min=0.1, beta_max=20.0, num_scales=1000))
    c.model = ConfigDict(
        dict(name="mlp", parameterization="score", conditioning="t", ema_rate=0.999, dropout=0.0, num_classes=0)
    )
    c.training = ConfigDict(
        dict(
            loss="dsm",  # dsm | ncsn | ddpm | ssm | ssm_vr
            batch_size=128,
            n_steps=10000,
            steps_per_call=1,
            likelihood_weighting=False,
            reduce_mean=False,
            eps=1e-5,
            log_every=100,
            checkpoint_every=1000,
            snapshot_every=0,
            snapshot_samples=64,
            eval_every=500,  # loss of the EMA model on a fixed held-out test batch (TensorBoard eval/loss); 0 = off
            max_to_keep=3,
            label_dropout=0.0,  # class-conditional models: chance a label becomes the null class (guidance)
        )
    )
    c.optim = ConfigDict(
        dict(optimizer="adam", lr=2e-4, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, warmup=0, grad_clip=1.0)
    )
    # sampling.method names the sampler; its hyper-parameters live in the sub-dict of that name
    # (sampling.pc.snr, sampling.dpm_solver.order, ...), with every method's defaults present so that
    # any of them can be overridden on the command line. Grids (ts / sigmas) are comma-separated numbers.
    c.sampling = ConfigDict(
        dict(
            method="pc",  # one of scoresde.solvers.SAMPLERS
            **{name: dict(fields) for name, fields in solvers.DEFAULTS.items()},
            n_samples=64,
            batch_size=64,
            seed=1,
            task="unconditional",  # unconditional | conditional | inpaint
            labels="all",  # conditional: 'all' (classes in turn) or comma-separated classes, e.g. '3' or '1,7'
            guidance=0.0,  # classifier-free guidance w: (1 + w) s(x, y) - w s(x); 0 = conditional score
            mask="right_half",  # inpaint, region to fill: left/right/top/bottom_half, center; 2-D data: x | y
        )
    )
    c.eval = ConfigDict(
        dict(
            bpd=True,
            bpd_batches=2,
            n_samples=1000,
            classifier_path="",  # digits: from tools/train_digits_classifier.py
            inception_path="",  # images: pytorch-fid's pt_inception-2015-12-05-6726825d.pth -> FID / IS / KID
            dataset_stats="",  # .npz from tools/dataset_stats.py; empty: computed from the train split
            inception_batch_size=50,  # images per Inception-v3 call (299x299)
            begin_step=0,  # sweep: evaluate every checkpoint with begin_step <= step <= end_step (0, 0: the latest)
            end_step=0,
        )
    )
    c.parallel = ConfigDict(dict(fsdp=1))
    return c
