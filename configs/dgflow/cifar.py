"""CIFAR-10 32x32 with a DCGAN (hinge loss, spectral norm); needs the python archive.

    python projects/dgflow/main.py --config=configs/dgflow/cifar.py --workdir=runs/dgflow_cifar \
        --config.data.path=/data/cifar-10-python.tar.gz

Without --config.data.path (or with a wrong one) every mode stops with a one-line error.
The Frechet distance and class coverage need a CIFAR-10 FeatureClassifier (--config.eval.classifier_path).
"""

from configs.dgflow.digits import get_config as digits


def get_config():
    c = digits()
    c.data.name, c.data.image_size, c.data.num_channels, c.data.path = "cifar10", 32, 3, ""
    c.data.n_test = 10000
    c.model.latent_dim = 128
    c.model.generator.nf = c.model.discriminator.nf = c.corrector.model.nf = 64
    c.gan.loss, c.gan.n_critic = "hinge", 5
    c.optim_g.beta1 = c.optim_d.beta1 = 0.0
    c.optim_g.beta2 = c.optim_d.beta2 = 0.9
    c.training.batch_size, c.training.n_steps, c.training.checkpoint_every = 64, 100_000, 5000
    c.refine.eta, c.refine.gamma, c.refine.n_steps = 0.1, 0.01, 25
    c.refine.n_samples, c.refine.batch_size = 10000, 512
    c.eval.classifier_path = ""
    return c
