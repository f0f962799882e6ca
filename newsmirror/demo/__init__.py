"""The bundled demo news site: sample content served over real HTTP, for ``newsmirror demo`` and tests.

See :class:`newsmirror.demo.site.DemoSite` and :func:`newsmirror.demo.site.demo_config_text`.
"""

from newsmirror.demo.config_text import demo_config_text
from newsmirror.demo.site import DemoSite

__all__ = ["DemoSite", "demo_config_text"]
