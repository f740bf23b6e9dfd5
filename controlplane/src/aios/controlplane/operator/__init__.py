"""The operator's command line beside ``aios serve``: ``aios login``, ``users``, ``devices``,
``tokens`` and ``pipelines deploy`` talk to a running control plane's REST API (URL and
credentials from options, ``AIOS_URL`` / ``AIOS_TOKEN``, or the stored login);
``aios users create-owner`` writes the first organization and owner to the database directly.
"""
