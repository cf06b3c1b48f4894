"""The one exception type users see: a message that names the input at fault and says what to do."""


class DoodleError(ValueError):
    """Bad input, a bad file or an impossible request, worded for the user.

    Subclasses ValueError so hosts that show ``str(exc)`` (ComfyUI's error dialog, the CLI) print it as is.
    """
