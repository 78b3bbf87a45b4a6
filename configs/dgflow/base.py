"""Defaults shared by every DGflow config: a GAN (or VAE) to train, its refinement, and the metrics."""

from ml_collections import ConfigDict


def base_config() -> ConfigDict:
    c = ConfigDict()
    c.seed = 0
    c.data = ConfigDict(
        dict(
            name="toy2d",  # toy2d | digits | cifar10
            toy="25gaussians",  # toy2d: 25gaussians | swissroll | 8gaussians | ...
            path="",  # cifar10: the cifar-10-python.tar.gz archive (or its extracted folder)
            image_size=8,
            num_channels=1,
            n_train=20000,
            n_test=5000,
            plot_lim=6.0,
        )
    )
    c.model = ConfigDict(
        dict(
            kind="gan",  # gan | vae
            latent_dim=2,
            generator=ConfigDict(dict(name="gan_mlp", width=256, depth=3, activation="relu")),
            discriminator=ConfigDict(
                dict(name="gan_mlp", width=256, depth=3, activation="leaky_relu", spectral_norm=False)
            ),
            encoder=ConfigDict(dict(name="dcgan_discriminator", nf=32)),  # vae only
        )
    )
    c.gan = ConfigDict(dict(loss="wgan_gp", n_critic=5, gp_weight=0.1))  # loss: wgan_gp | ns | hinge
    c.vae = ConfigDict(dict(obs_std=0.1, ema_rate=0.999))  # Gaussian decoder std in data units
    c.training = ConfigDict(dict(batch_size=256, n_steps=10000, log_every=500, checkpoint_every=5000, max_to_keep=2))
    adam = dict(optimizer="adam", lr=1e-4, beta1=0.5, beta2=0.9, eps=1e-8, warmup=0, grad_clip=0.0)
    c.optim_g = ConfigDict(dict(adam))
    c.optim_d = ConfigDict(dict(adam))
    c.corrector = ConfigDict(
        dict(
            train=False,  # also train a data-vs-generated classifier after the GAN (always for a VAE)
            n_steps=2000,
            batch_size=256,
            ema_rate=0.99,
            model=ConfigDict(dict(name="gan_mlp", width=256, depth=3, activation="leaky_relu")),
            optim=ConfigDict(dict(adam, lr=1e-3, beta1=0.9, beta2=0.999)),
        )
    )
    c.refine = ConfigDict(
        dict(
            ratio="discriminator",  # discriminator (the GAN's own d) | corrector (the trained classifier's logit)
            space="latent",  # latent | data
            fs=("kl", "js", "logd"),
            eta=0.1,  # step size
            gamma=0.01,  # noise (entropy regularisation); 0 gives the deterministic flow
            n_steps=25,
            ddls_eta=0.01,  # DDLS step size (same n_steps, so the same number of gradients of d)
            n_samples=5000,
            batch_size=1000,
            seed=1,
            n_saves=26,  # states kept along each path (2-D path plots)
            n_paths=64,
        )
    )
    c.eval = ConfigDict(
        dict(
            hq_std=4.0,  # 25 Gaussians: high quality = within hq_std stds of the nearest mode
            curve_tol=0.2,  # Swiss roll: high quality = within this distance of the noiseless curve
            curve_segments=20,  # Swiss roll: "modes" = equal-parameter segments of the curve
            classifier_path="",  # images: a scoresde.metrics.FeatureClassifier (Frechet distance, classes)
        )
    )
    c.parallel = ConfigDict(dict(fsdp=1))
    return c
