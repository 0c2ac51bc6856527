"""Supported SDK versions, as data (the ``package.py`` convention of the contrib repository).

``BaseInstrumentor`` checks these before instrumenting, so ``opentelemetry-instrument``
skips an SDK that is missing or outside the range. Methods a version in the range lacks
(video generation in older ``openai`` releases) are skipped one by one.
"""

from __future__ import annotations

from typing import Final

#: The OpenAI SDK: images (generate, edit), audio (speech, transcriptions), videos.
OPENAI: Final = ("openai >= 1.76.0, < 4",)
#: The Google Gen AI SDK: models (generate_images, edit_image, generate_content,
#: generate_videos) and operations (get).
GOOGLE_GENAI: Final = ("google-genai >= 1.20.0, < 4",)
