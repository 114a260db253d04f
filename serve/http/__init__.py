"""The HTTP inference server (`callinkit serve`; needs the `[serve]` extra). Never imports torch.

    from callinkit.serve.http import ServerSettings, create_app
    app = create_app(ServerSettings(classifier_bundle="bundles/quickstart"))
"""

from callinkit.serve.http.app import create_app
from callinkit.serve.http.batching import DynamicBatcher
from callinkit.serve.http.settings import ServerSettings

__all__ = ["DynamicBatcher", "ServerSettings", "create_app"]
