"""sklearn 8x8 digits with a small conv VAE; refined through a density-ratio corrector (data vs decoder samples).

    python projects/dgflow/main.py --config=configs/dgflow/digits_vae.py --workdir=runs/dgflow_vae --mode=train

Training fits the VAE, then the corrector: a classifier between data and decoded prior samples whose logit
estimates log p_data / p_vae, used by DGflow and DDLS in the VAE's latent space.
"""

from ml_collections import ConfigDict

from configs.dgflow.digits import get_config as digits


def get_config():
    c = digits()
    c.model.kind = "vae"
    c.model.encoder = ConfigDict(dict(name="dcgan_discriminator", nf=32))
    c.optim_g.lr, c.optim_g.beta1, c.optim_g.beta2 = 1e-3, 0.9, 0.999
    c.training.n_steps = 3000
    c.refine.ratio = "corrector"
    return c
