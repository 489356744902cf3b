"""The bare framework: a functions-framework "hello" function, the baseline of every ratio."""

import functions_framework


@functions_framework.http
def hello(request):
    return "hello"
