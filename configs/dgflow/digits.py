"""sklearn 8x8 digits with a small DCGAN, non-saturating loss and a spectrally normalised discriminator.

python projects/dgflow/main.py --config=configs/dgflow/digits.py --workdir=runs/dgflow_digits --mode=train
python tools/train_digits_classifier.py --out=runs/digits_classifier.eqx   # for --mode=eval
"""

from ml_collections import ConfigDict

from configs.dgflow.base import base_config


def get_config():
    c = base_config()
    c.data.name, c.data.image_size, c.data.num_channels = "digits", 8, 1
    c.data.n_test = 360
    c.model.latent_dim = 16
    c.model.generator = ConfigDict(dict(name="dcgan_generator", nf=32))
    c.model.discriminator = ConfigDict(dict(name="dcgan_discriminator", nf=32, spectral_norm=True))
    c.gan.loss, c.gan.n_critic = "ns", 1
    c.optim_g.lr = c.optim_d.lr = 2e-4
    c.optim_g.beta2 = c.optim_d.beta2 = 0.999
    c.training.batch_size, c.training.n_steps, c.training.log_every = 64, 3000, 250
    c.training.checkpoint_every = 1000
    c.corrector.model = ConfigDict(dict(name="dcgan_discriminator", nf=32))
    c.corrector.batch_size = 64
    c.refine.eta, c.refine.gamma, c.refine.n_steps = 0.01, 0.01, 25
    c.refine.n_samples, c.refine.batch_size = 360, 120
    c.eval.classifier_path = "runs/digits_classifier.eqx"
    return c
