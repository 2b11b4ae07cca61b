"""A screenshot of the Avatar panel connected to the test suite's fake VTube Studio, mid-speech.

Run: QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshot_avatar.py docs/avatar-panel.png
"""

import asyncio
import pathlib
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import qasync
from PySide6.QtWidgets import QApplication

from tests.integrations.fake_vts import FakeVTS
from voxelle_app.core.bus import EventBus
from voxelle_app.core.events import MoodChanged, MouthLevel
from voxelle_app.core.logs import Redactor
from voxelle_app.core.secrets import SecretStore
from voxelle_app.core.settings import Settings
from voxelle_app.integrations.vtube_studio import VTubeStudio
from voxelle_app.ui.bridge import Bridge
from voxelle_app.ui.panels.avatar import AvatarPanel
from voxelle_app.ui.style import STYLE
from voxelle_app.ui.tasks import TaskKeeper

app = QApplication([])
app.setStyleSheet(STYLE)
loop = qasync.QEventLoop(app)
asyncio.set_event_loop(loop)

async def main():
    fake = FakeVTS()
    await fake.start()
    s = Settings()
    s.vtube_studio.url = fake.url
    s.vtube_studio.enabled = True
    s.vtube_studio.mood_hotkeys = {"happy": "hk-smile", "sad": "sad.exp3.json"}
    bus = EventBus()
    bus.attach(loop)
    sec = SecretStore(pathlib.Path(tempfile.mkdtemp()) / "s.json", Redactor(), use_keyring=False)
    vts = VTubeStudio(s.vtube_studio, bus, sec)
    bridge = Bridge(bus)
    panel = AvatarPanel(s, vts, bridge, TaskKeeper(print), lambda: None)
    panel.resize(1080, 620)
    panel.show()
    await vts.start()
    while panel.hotkey_table.rowCount() < 3:  # noqa: ASYNC110 (a one-off script)
        await asyncio.sleep(0.05)
    bus.publish(MoodChanged(mood="happy"))
    for i in range(25):
        bus.publish(MouthLevel(value=0.13 + 0.03 * (i % 3)))
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)
    panel.grab().save(sys.argv[1])
    await vts.stop()
    await fake.stop()

with loop:
    loop.run_until_complete(asyncio.wait_for(main(), 30))
