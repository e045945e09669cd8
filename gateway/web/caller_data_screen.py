"""The Caller Data screen laid out as the site says, and the idle "No User" screen (issue 16).

`phone_screens.caller_data` draws the guide's screen with its soft keys; `laid_out` puts the
lines of the group's layout on it (`[caller_data.layouts]`: "Layout: Default", ANI, DNIS and
the site's own fields). `no_user_screen` is what a phone shows once its agent has logged off:
the IP Office tip's "No User" with the station's extension, and a key to log on again.
"""

from __future__ import annotations

from dataclasses import replace
from gettext import NullTranslations

from acdgate.acd.caller_data import BuiltinKey, DataFields, screen_lines
from acdgate.acd.site import Site
from acdgate.gateway.web.phone_screens import CallerData, Key, Links, Page, SoftKey, TextScreen

NO_USER = "No User"  # IP Office: "the Display will Indicate No User, with the Extension number"


def laid_out(screen: TextScreen, call: CallerData | None, site: Site, data: DataFields | None) -> TextScreen:
    """`screen` (a Caller Data screen) with the lines of the call's group's layout; `data`
    is the call's enterprise data now (None: what the offer carried). A non-routed call or
    no call keeps the screen as drawn."""
    if call is None or not call.routed:
        return screen
    group = site.group(call.group)
    builtins = {
        BuiltinKey.ANI.value: call.ani,
        BuiltinKey.DNIS.value: call.dnis,
        BuiltinKey.GROUP.value: group.name if group is not None else call.group,
    }
    layout = site.caller_data.layout_for(call.group)
    return replace(screen, lines=screen_lines(layout, builtins, call.data if data is None else data))


def no_user_screen(links: Links, tr: NullTranslations) -> TextScreen:
    """The station with nobody logged on: "No User" (the tip's words, as the guide shows them
    in every language) and its extension; Login opens the form."""
    return TextScreen(
        title=f"{NO_USER} {links.ext}",
        status="",
        lines=(NO_USER, f"{tr.gettext('Extension')} {links.ext}"),
        soft_keys=(SoftKey(tr.gettext("Login"), links.url(Page.LOGIN)), SoftKey(tr.gettext("Exit"), Key.EXIT)),
    )
