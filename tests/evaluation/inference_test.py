"""Top-down inference: its traced-function cache never keeps a model alive."""

import gc
import os
import weakref

import tensorflow as tf

from tfpose_ssl.data import coco
from tfpose_ssl.data import synthetic
from tfpose_ssl.evaluation import inference
from tfpose_ssl.models import simple_baseline
from tfpose_ssl.ops import codec as codec_lib


class PredictCacheTest(tf.test.TestCase):

  def test_an_evaluated_model_is_released_with_its_cached_function(self):
    # Before: a module-level dict held every evaluated model (and its weights) for the life of
    # the process: pytest, the benchmarks and notebooks grew with each evaluation.
    root = self.get_temp_dir()
    path = synthetic.generate_split(root, "val", num_images=2, seed=3)
    instances, _ = coco.load_instances(coco.CocoKeypoints(path, os.path.join(root, "images")))
    codec = codec_lib.KeypointCodec((64, 64))
    gc.collect()  # models of earlier tests that are garbage already: not counted in `before`
    before = len(inference._PREDICT_FNS)  # pylint: disable=protected-access
    models = [simple_baseline.simple_baseline((64, 64), width=8, deconv_filters=16)
              for _ in range(2)]
    first, _, valid = inference.predict_instances(models[0], codec, instances, batch_size=4)
    self.assertTrue(valid.all())
    again, _, _ = inference.predict_instances(models[0], codec, instances, batch_size=4)
    self.assertAllEqual(first, again)
    inference.predict_instances(models, codec, instances, batch_size=4)  # the ensemble
    self.assertLen(inference._PREDICT_FNS, before + 2)  # pylint: disable=protected-access
    references = [weakref.ref(m) for m in models]
    del models
    gc.collect()
    self.assertEqual([r() for r in references], [None, None])
    self.assertLen(inference._PREDICT_FNS, before)  # pylint: disable=protected-access


if __name__ == "__main__":
  tf.test.main()
