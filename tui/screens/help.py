"""The `?` screen: every key, and what each view shows."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HELP = """\
[b]vaultnet dashboard[/]: a live testnet; everything you do here happens on the real
network.

[b]Views[/] (1-6, or click a tab)
  1 Vaults     state, stored / capacity, copies by kind (P/B/S), rank, messages/s;
               the selected vault's close group, PmidManager account and copies
  2 Chunks     the chunks you put, who holds each copy; the XOR view of the selected
               chunk: nearest vaults by shared prefix bits, the close-group boundary
  3 Flows      the followed operation as a space-time diagram (persona lanes, time
               downwards, arrows per message, marks for accumulated / committed /
               stored / version put / held / delivered; MpidNode and MpidManager
               get a lane per identity); below it the live message log (/ filters
               it)
  4 Evictions  a table, a row per happening: evictions, put failures, holders
               removed / replicated, rank changes, integrity failures, churn,
               vaults up / down, faults (a group's identical reports are one
               row; "seen by" counts the vaults that reported it); above it how
               many of each kind were ever seen (narrow: ev pf rm rp rk in ch vt
               ft, in that order), and the filter (c, /)
  5 Ranking    nodes by rank (stored / (stored + lost)), rank over time
  6 Versions   version trees (tips, forks, orphans) and whether each tree's
               VersionManager group agrees; the structured data records (owner,
               version, size, which VersionManagers hold it; "you": the
               dashboard's own client owns it); the dashboard's MPIDs (alice, bob)
               and the messages between them: held, delivered, refused (why),
               held by which MpidManagers

[b]Keys[/] (each view's footer shows its own; every key works in every view)
  arrows, j / k  move in the focused table    home / end  first / last row
  tab / shift+tab  move the focus between panes (the focused one has an accent
                   border)
  p  put: random bytes of a size (4096, 64K, 1M) or a regular file's path (at
     most the chunk limit; read in the background, never blocking the network)
  g  get the selected chunk        D  delete the selected chunk (asks y / n)
  t  follow the selected chunk's operation in the Flows view; in view 6 the
     selected tree's latest operation, or (tab to the message table) the
     selected message's delivery (or its send while it is held); t again in
     view 6: the send of a message that was delivered later
  x  show the XOR neighbourhood of the selected vault or chunk
  a  add a vault    K  kill the selected vault (asks y / n)
  r  restart the selected vault
  f  inject a fault into the selected vault: lie, lose, corrupt, silent,
     partition (sim only), heal
  n  new version tree: a NAME and its first version's text (the root)
  v  put a version under the selected one (on an item's row: under its
     newest tip); a second child is a fork
  b  delete the branch of the selected tip, back to its fork
  s  put a structured data record: a KEY (its name is the key's hash) and its
     data, owned by the dashboard's client
  u  update the selected record to its next version: its new data (refused
     unless the dashboard's client owns it)
  X  delete the selected record (asks y / n; refused unless you own it)
  m  send a message: FROM TO TEXT, e.g. alice bob hello
  o  take alice or bob offline (their managers hold what is sent to them)
     or bring them back online (the managers push it: delivered)
  /  filter the message log (words that must all appear: persona, action,
     vault or name prefix, trace prefix); empty shows all. In view 4 it
     filters the events the same way (kind, vault, copy, trace, reason)
  c  view 4: show only the next kind of event (after the last, every kind)
  space  pause the display (the network keeps running)
  ctrl+p command palette (every action, with its key; Screenshot saves an SVG
     in the data directory, else the current one)
  T  a guided tour of the views: enter or → next step, ← back, escape leaves
     (back to the view you were on)
  ?  this help    q or ctrl+c  quit (SIGTERM and SIGINT quit cleanly too)

Press escape or ? to close."""

REPLAY_HELP = """\
[b]Replay[/] (vaultnet tui --replay FILE): the views show the recording
at the cursor of the timeline (at the bottom). The keys that would change
a network (p g D a K r f n v b s u X m o) are refused.
  space  play / pause (at the end: from the start)
  - / +  speed: 0.5x, 1x, 2x, 4x, 8x, 16x
  , / .  step one record back / forward (an event, a sample, an operation)
  < / >  step one batch (0.1 s of recorded time) back / forward
  [ / ]  seek 5 s back / forward       0 / $  the start / the end
  :      go to a time (seconds from the start); a click on the timeline
         seeks to the time under the mouse
  views, arrows, t, x, /, c, ? and q work as in a live dashboard

"""


class HelpScreen(ModalScreen[None]):
    """Every key and view, in a box over the dashboard (escape, ? or q closes it)."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90; max-width: 100%; height: 80%; border: thick $primary;
                                  background: $surface; padding: 0 1; }
    """
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "close")]

    def __init__(self, replay: bool = False) -> None:
        """The keys of a live dashboard; with `replay`, the replay's keys first."""
        super().__init__()
        self.text = REPLAY_HELP + HELP if replay else HELP

    def compose(self) -> ComposeResult:
        """The text, scrolled."""
        with VerticalScroll():
            yield Static(self.text)
