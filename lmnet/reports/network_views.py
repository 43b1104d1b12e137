"""Report sections that show what the network computes (as opposed to how well it scores)."""
from lmnet.evaluation import batches
from lmnet.feature_maps import feature_maps_png
from lmnet.reports.page import Section

#: Validation images whose first layers' feature maps the report shows.
FEATURE_MAP_IMAGES = 3
#: The report's file of the feature maps (also embedded in the page).
FEATURE_MAPS_PNG = "feature_maps.png"


def feature_maps_section(model, batched, count=FEATURE_MAP_IMAGES):
    """The first layers' feature maps of the first ``count`` validation images, as a report :class:`Section`.

    Args:
        model: the evaluated Keras model.
        batched: the evaluation's ``tf.data`` dataset of pre-processed ``(images, targets)`` batches; only its first
            batch is read.
        count: how many images (at most one batch).

    Returns:
        The :class:`Section`, or ``None`` when the dataset has no sample.
    """
    for images, _ in batches(batched.take(1)):
        images = images.numpy()[:count]
        return Section("What the first layers see", feature_maps_png(model, images),
                       f"The first activation layers of the network for {len(images)} validation images, the "
                       "channels that vary most; for an activation quantizer, the float map entering it beside the "
                       "quantized map leaving it (what the hardware sees), on one colour scale per channel "
                       "(lmnet.feature_maps).", file_name=FEATURE_MAPS_PNG)
    return None
