"""Writes synthetic splits in COCO format, and loads them.

`generate_split` writes a split (images named by a digest of their content, the annotation JSON
last, under a per-split lock); `make_synthetic_coco` generates one unless it is there already,
the explicit step before a run; `synthetic_coco`, the gin configurable of the configs, loads one
as a `coco.CocoKeypoints` and never writes (evaluating a config writes no dataset).
"""

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shlex
import shutil

import gin
import numpy as np

from tfpose_ssl import io_utils
from tfpose_ssl.data import coco
from tfpose_ssl.data.synthetic import drawing
from tfpose_ssl.data.synthetic import quadruped
from tfpose_ssl.ops import keypoints as kp

GENERATOR_VERSION = 4
DIGEST_CHARS = 12  # hex digits of the content digest in an image folder's name
WIDTH, HEIGHT = 288, 224  # image size of the generated splits (configs/synthetic.gin)
# What a split can show: the image function, the keypoint schema and its COCO category.
SKELETONS = {
    "person": (drawing.generate_image, kp.COCO_PERSON, kp.PERSON_CATEGORY),
    "quadruped": (quadruped.generate_image, quadruped.QUADRUPED, quadruped.CATEGORY),
}


def encode_jpeg(image, quality=92):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.io.encode_jpeg(image, quality=quality).numpy()


def generate_split(out_dir, split, num_images, seed=0, width=WIDTH, height=HEIGHT,
                   max_people=3, skeleton="person"):
  """Writes a synthetic split under `out_dir`; returns the path of its annotation JSON.

  `skeleton` chooses the figures (`SKELETONS`): "person" (COCO's 17 keypoints) or "quadruped"
  (13 keypoints, `quadruped.QUADRUPED`); `max_people` is the most figures per image.
  The layout: `annotations/<skeleton>_keypoints_<split>.json` and `images/<split>-<digest>/
  <split>_NNNNNN.jpg` for people, `images/<skeleton>/<split>-<digest>/...` for other skeletons
  (the JSON's `file_name`s are relative to `images/`, as before).
  Regenerating a split over an existing one never changes the bytes of a file the existing JSON
  names, so that an interruption at any point (Ctrl-C, a full disk, a killed job) leaves either the old
  split or the new one, each with its own labels, never old labels on new pixels. The images
  are written into a staging folder and renamed into a folder named by a digest of their
  content (bytes and labels), which no other content can share; the JSON, written atomically
  after them, is the commit: until it is replaced, the old JSON still points at the old,
  unchanged folder. The previous split's images are deleted only after the commit. Same content
  means the same folder name, so the output stays deterministic for a seed, and a regeneration
  that finds its folder present (made by an earlier run) replaces its files by identical ones.
  One generation of a split runs at a time per `out_dir` (a lock file next to the JSON).
  """
  with _generation_lock(out_dir, split, skeleton):
    return _generate_split(out_dir, split, num_images, seed, width, height, max_people,
                           skeleton)


def _image_folder(skeleton):
  """Where a split's image folders are, under `images/`: there for people (as before), in
  `images/<skeleton>/` for other skeletons (whose splits then never touch the people's, nor
  the people's theirs: a split's clean-up lists only its own folder)."""
  return "" if skeleton == "person" else skeleton


def _generate_split(out_dir, split, num_images, seed, width, height, max_people, skeleton):
  """`generate_split` for a caller that holds the split's generation lock."""
  if skeleton not in SKELETONS:
    raise ValueError(f"unknown synthetic skeleton {skeleton!r}; one of {sorted(SKELETONS)}")
  generate_image, _, category = SKELETONS[skeleton]
  rng = np.random.default_rng([seed, GENERATOR_VERSION, sum(map(ord, split)),
                               *map(ord, _image_folder(skeleton))])
  image_root = os.path.join(out_dir, "images", _image_folder(skeleton))
  staging = os.path.join(image_root, f".{split}.staging")
  if os.path.lexists(staging):  # left by an interrupted run (no other one runs: the lock)
    shutil.rmtree(staging)
  os.makedirs(staging)  # not mkdtemp: its 0700 would become the images' folder's mode
  content = hashlib.sha256(f"{width}x{height}".encode())
  names, annotations = [], []
  for index in range(num_images):
    image_id = index + 1
    name = f"{split}_{image_id:06d}.jpg"
    pixels, anns = generate_image(rng, width, height, max_people)
    jpeg = encode_jpeg(pixels)
    with open(os.path.join(staging, name), "wb") as f:
      f.write(jpeg)
      f.flush()
      os.fsync(f.fileno())
    content.update(f"{name}:{len(jpeg)}:".encode())
    content.update(jpeg)
    names.append(name)
    for ann in anns:
      ann.update(id=len(annotations) + 1, image_id=image_id)
      annotations.append(ann)
  content.update(json.dumps(annotations, sort_keys=True).encode())
  folder = f"{split}-{content.hexdigest()[:DIGEST_CHARS]}"
  final = os.path.join(image_root, folder)
  io_utils.fsync_dir(staging)
  if os.path.isdir(final):
    # An earlier run made this very content (perhaps the current JSON's, perhaps a folder whose
    # deletion was interrupted): its files are replaced by identical, complete ones.
    for name in names:
      os.replace(os.path.join(staging, name), os.path.join(final, name))
    io_utils.fsync_dir(final)
    shutil.rmtree(staging)
  else:
    os.rename(staging, final)
  io_utils.fsync_dir(image_root)
  figures = "people" if skeleton == "person" else f"{skeleton}s"
  data = {
      "info": {"description": f"tfpose_ssl synthetic COCO-format {figures}",
               "version": GENERATOR_VERSION,
               "generator": _parameters(split, num_images, seed, width, height, max_people,
                                        skeleton)},
      "licenses": [],
      "images": [{"id": index + 1,
                  "file_name": os.path.join(_image_folder(skeleton), folder, name),
                  "width": width, "height": height} for index, name in enumerate(names)],
      "annotations": annotations,
      "categories": [category],
  }
  path = _annotation_path(out_dir, split, skeleton)
  io_utils.atomic_write_text(path, json.dumps(data))  # the commit
  io_utils.fsync_dir(os.path.dirname(path))  # before the old images go
  _remove_replaced_images(image_root, split, keep=folder)
  return path


def _annotation_path(root, split, skeleton="person"):
  return os.path.join(root, "annotations", f"{skeleton}_keypoints_{split}.json")


def _remove_replaced_images(image_root, split, keep):
  """Deletes the images of `split` that its (just committed) JSON no longer names.

  Those are the folders of earlier generations (`<split>-<digest>`, also ones an interrupted
  run renamed in but never committed) and the flat `<split>_NNNNNN.jpg` files that generators
  before the digest folders wrote. The patterns match no other split's files ("train" does not
  match "train_2"'s `train_2_000001.jpg` nor "train-x"'s folders).
  """
  folder = re.compile(re.escape(split) + r"-[0-9a-f]{%d}" % DIGEST_CHARS)
  flat = re.compile(re.escape(split) + r"_\d{6,}\.jpg")
  for name in os.listdir(image_root):
    path = os.path.join(image_root, name)
    with contextlib.suppress(OSError):  # garbage only: the next generation tries again
      if name != keep and folder.fullmatch(name) and os.path.isdir(path):
        shutil.rmtree(path)
      elif flat.fullmatch(name) and os.path.isfile(path):
        os.remove(path)


@contextlib.contextmanager
def _generation_lock(root, split, skeleton="person"):
  """Holds `annotations/.<skeleton>_keypoints_<split>.lock` (`fcntl.flock`) while a split is
  made.

  Two processes generating one split (two workers of a run, two runs sharing `data/`) would
  share the staging folder and delete each other's images; the second waits instead, and
  `make_synthetic_coco` then finds the split made. The lock dies with its process, also on SIGKILL.
  """
  folder = os.path.join(root, "annotations")
  os.makedirs(folder, exist_ok=True)
  with open(os.path.join(folder, f".{skeleton}_keypoints_{split}.lock"), "a") as f:
    try:
      fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
      print(f"Waiting for another process generating synthetic split '{split}' under {root} ...",
            flush=True)
      fcntl.flock(f.fileno(), fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _generated_with(path):
  """The generator parameters of an annotation file of this `GENERATOR_VERSION`, or None."""
  try:
    with open(path) as f:
      info = json.load(f).get("info", {})
    return info.get("generator") if info.get("version") == GENERATOR_VERSION else None
  except (OSError, ValueError, AttributeError):  # absent, truncated, not a COCO dict
    return None


def _parameters(split, num_images, seed, width, height, max_people, skeleton="person"):
  """What a split is generated with, as its annotation JSON records it (`info.generator`;
  `skeleton` only when not "person", so that people's splits made before it still match)."""
  found = {"split": split, "num_images": num_images, "seed": seed, "width": width,
           "height": height, "max_people": max_people}
  return found if skeleton == "person" else dict(found, skeleton=skeleton)


def _dataset(root, split, skeleton="person"):
  """The split as a `CocoKeypoints`: a quadruped split carries its category, OKS sigmas and
  front half (`upper_body`), which its annotation file cannot hold."""
  files = dict(annotation_file=_annotation_path(root, split, skeleton),
               image_dir=os.path.join(root, "images"))
  if skeleton == "person":
    return coco.CocoKeypoints(**files)
  _, schema, category = SKELETONS[skeleton]
  return coco.CocoKeypoints(**files, category_id=category["id"], oks_sigmas=schema.oks_sigmas,
                            upper_body=schema.upper_body)


def _generate_command(root, split, num_images, seed, width=WIDTH, height=HEIGHT, max_people=3,
                      skeleton="person"):
  """The command line that generates the split `synthetic_coco` loads with these arguments."""
  command = ["python", "-m", "tfpose_ssl.data.synthetic", f"--out={root}", f"--split={split}",
             f"--num_images={num_images}", f"--seed={seed}"]
  command += [f"--{name}={value}" for name, value, default in
              (("width", width, WIDTH), ("height", height, HEIGHT), ("max_people", max_people, 3),
               ("skeleton", skeleton, "person"))
              if value != default]  # the defaults are the command's too
  return shlex.join(command)


@gin.configurable
def synthetic_coco(root="data/synthetic", split="train", num_images=2000, seed=0, width=WIDTH,
                   height=HEIGHT, max_people=3, skeleton="person"):
  """The synthetic split under `root` as a `CocoKeypoints`: read, never written.

  `skeleton` is "person" (COCO's 17 keypoints) or "quadruped" (`quadruped.QUADRUPED`).

  The split must have been generated first, with these parameters: `make_synthetic_coco`, the
  command `python -m tfpose_ssl.data.synthetic`, or, for every split a gin config names,
  `python -m tfpose_ssl.tools.make_synthetic --config=<config>`. A split exists when its
  annotation JSON does: `generate_split` writes it last, after its images, and keeps the images
  it names unchanged until the JSON is replaced. The errors name the folder and the command
  that generates the split wanted.

  Raises:
    FileNotFoundError: the split is not under `root`.
    ValueError: the split there was generated with other parameters, by another version of the
      generator, or its annotation JSON is damaged.
  """
  root = io_utils.resolve_path(root)
  path = _annotation_path(root, split, skeleton)
  wanted = _parameters(split, num_images, seed, width, height, max_people, skeleton)
  found = _generated_with(path)
  if found == wanted:
    return _dataset(root, split, skeleton)
  command = _generate_command(root, **wanted)
  if not os.path.exists(path):
    raise FileNotFoundError(
        f"no synthetic split '{split}' under {root} (no {path}); generate it with\n"
        f"  {command}\nor every split of your gin config with\n"
        f"  python -m tfpose_ssl.tools.make_synthetic --config=<config>")
  if found is None:
    made = f"by a version of the generator other than {GENERATOR_VERSION} (or its JSON is damaged)"
  else:
    made = "with " + ", ".join(f"{name}={found.get(name)!r} (wanted: {value!r})"
                               for name, value in wanted.items() if found.get(name) != value)
  raise ValueError(f"the synthetic split '{split}' under {root} was generated {made}; "
                   f"regenerate it (replacing it) with\n  {command}\nor give this run the "
                   f"parameters it was generated with ({path}: info.generator)")


def make_synthetic_coco(root="data/synthetic", split="train", num_images=2000, seed=0,
                        width=WIDTH, height=HEIGHT, max_people=3, skeleton="person"):
  """Generates the split `synthetic_coco` loads with these arguments; returns it, loaded.

  The explicit step before a run: idempotent, it writes nothing when the split is there already
  with these parameters. A split made with other ones (or by another version of the generator,
  or whose generation was interrupted) is regenerated over it, atomically (`generate_split`).
  Processes making one split wait for each other (its generation lock); the later ones find it
  made.
  """
  root = io_utils.resolve_path(root)
  path = _annotation_path(root, split, skeleton)
  wanted = _parameters(split, num_images, seed, width, height, max_people, skeleton)
  if _generated_with(path) != wanted:
    with _generation_lock(root, split, skeleton):
      if _generated_with(path) != wanted:  # not just made by a process we waited for
        print(f"Generating synthetic split '{split}' ({num_images} images) under {root} ...",
              flush=True)
        _generate_split(root, split, num_images, seed, width, height, max_people, skeleton)
  return _dataset(root, split, skeleton)
