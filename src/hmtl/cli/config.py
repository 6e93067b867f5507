"""`hmtl config --defaults | --markdown | CONFIG.yaml [key=value …]`: the configuration
reference, or a config as a run would resolve it (generation lives in hmtl.config.reference)."""

from __future__ import annotations

import argparse

from ..errors import HmtlError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", nargs="?", help="YAML run configuration to resolve")
    p.add_argument("overrides", nargs="*", metavar="key=value",
                   help="override config values, as `hmtl run` takes them")
    shown = p.add_mutually_exclusive_group()
    shown.add_argument("--defaults", action="store_true",
                       help="every key with its default, as YAML with the help as comments")
    shown.add_argument("--markdown", action="store_true",
                       help="the reference as Markdown tables (docs/config.md)")
    p.epilog = ("With CONFIG.yaml: the resolved configuration (defaults filled in, overrides "
                "applied, the manifest path made absolute), as `hmtl run` would use it.")


def main(args: argparse.Namespace) -> int:
    from ..config import dump_config, load_config
    from ..config.reference import defaults_yaml, markdown_reference

    if args.defaults or args.markdown:
        if args.config or args.overrides:
            raise HmtlError("config: --defaults and --markdown take no CONFIG.yaml or overrides")
        print(defaults_yaml() if args.defaults else markdown_reference(), end="")
        return 0
    if not args.config:
        raise HmtlError("config: give CONFIG.yaml [key=value …], --defaults or --markdown")
    print(dump_config(load_config(args.config, args.overrides)), end="")
    return 0
