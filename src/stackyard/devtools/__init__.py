"""Tools for exercising Stackyard against a stand-in GitLab: the API double and a webhook sender."""
