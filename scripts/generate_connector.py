"""Writes the custom connector (connector/ by default) from the operation catalog and models: the
definition the app serves, its connection properties, both for the function key and for Entra sign-in
(entra/), and the icon. The publisher's name and links, and the Entra app, are placeholders unless given."""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw

from shared.api.openapi import ICON_COLOR, EntraApp, Publisher, api_properties, connector_definition

ROOT = Path(__file__).resolve().parents[1]
ICON_SIZE = 230  # what certification asks for: 230 x 230, a coloured (not white) background
AVAILABLE_GREEN = "#6BB700"


def draw_icon(path: Path) -> None:
    """A person with a presence dot, in white on the brand colour."""
    image = Image.new("RGB", (ICON_SIZE, ICON_SIZE), ICON_COLOR)
    pen = ImageDraw.Draw(image)
    pen.ellipse((80, 45, 150, 115), fill="white")  # head
    pen.pieslice((45, 125, 185, 265), 180, 360, fill="white")  # shoulders
    pen.ellipse((140, 130, 190, 180), fill=AVAILABLE_GREEN, outline=ICON_COLOR, width=6)
    image.save(path, format="PNG", optimize=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "connector", help="where to write (connector/)")
    defaults, entra = Publisher(), EntraApp()
    parser.add_argument("--publisher", default=defaults.name, help="the publisher's name")
    parser.add_argument("--website", default=defaults.website, help="the publisher's website")
    parser.add_argument("--privacy", default=defaults.privacy, help="the publisher's privacy policy URL")
    parser.add_argument("--email", default=defaults.email, help="a contact e-mail address")
    parser.add_argument(
        "--tenant", default=entra.tenant, help="Entra variant: the tenant id (ENTRA_TENANT_ID)"
    )
    parser.add_argument(
        "--resource", default=entra.resource, help="Entra variant: the API's Application ID URI"
    )
    parser.add_argument("--client-id", default=entra.client_id, help="Entra variant: the connector's app id")
    args = parser.parse_args(argv)
    publisher = Publisher(args.publisher, args.website, args.privacy, args.email)
    app = EntraApp(args.tenant, args.resource, args.client_id)
    for caller_auth, folder in (("function-key", args.out), ("entra", args.out / "entra")):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "apiDefinition.swagger.json").write_text(connector_definition(caller_auth, publisher, app))
        (folder / "apiProperties.json").write_text(api_properties(caller_auth, publisher, app))
    draw_icon(args.out / "icon.png")
    print(f"{args.out}: apiDefinition.swagger.json, apiProperties.json, icon.png and entra/ written")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
