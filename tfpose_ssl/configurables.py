"""Registers every gin configurable of tfpose_ssl, in one place.

gin resolves a name in a config (`train.epochs`, `@DualStudentTrainer`, `@synthetic_coco`)
only once the module defining it was imported. The binaries import this module before they
parse a config, and so should a program that parses one through the Python API:

  from tfpose_ssl import config, configurables, training
  config.parse(["configs/synthetic.gin"])
  training.train(workdir="runs/mine")

No other module imports a module only to register its configurables.
`tests/config_test.py::ConfigurablesTest` checks that `MODULES` holds every module of the
package that defines one.
"""

from tfpose_ssl import runtime
from tfpose_ssl import task
from tfpose_ssl import training
from tfpose_ssl.data import coco
from tfpose_ssl.data.synthetic import dataset as synthetic_dataset
from tfpose_ssl.models import hrnet
from tfpose_ssl.models import simple_baseline
from tfpose_ssl.ops import augment
from tfpose_ssl.ops import views
from tfpose_ssl.trainers import dual_student
from tfpose_ssl.trainers import supervised

MODULES = (augment, runtime, task, training, views, coco, synthetic_dataset, hrnet,
           simple_baseline, dual_student, supervised)
