"""`podpy build`: a Containerfile and a context become an image.

The package, in the order a build runs:
    parser.py    the Containerfile's text -> instructions (directives, continuations, heredocs, flags)
    words.py     ARG/ENV expansion and word splitting, as BuildKit's shell lexer does it
    stages.py    instructions -> stages, the global ARGs, which stages a --target needs
    ignore.py    .containerignore/.dockerignore patterns
    context.py   the build context (a directory, a tar on stdin, a git repository): sources, digests
    cache.py     the layer cache: step key -> image
    workdir.py   a working container: a parent image's layers plus a writable layer, made a layer
    copy.py      COPY and ADD, run in the user namespace
    run.py       RUN: the runtime spec, its mounts and secrets
    executor.py  the steps, their output, the images they commit

Nothing here is imported by `run`, `create` or `exec`.
"""
