"""A dark theme: streamers run Voxelle beside OBS at night."""

STYLE = """
QWidget { background: #15171c; color: #e5e7eb; font-size: 13px; }
QTabWidget::pane { border: 1px solid #2a2e37; border-radius: 6px; }
QTabBar::tab { background: #1d2026; padding: 7px 16px; border-top-left-radius: 6px;
               border-top-right-radius: 6px; margin-right: 2px; color: #9ca3af; }
QTabBar::tab:selected { background: #2a2e37; color: #f3f4f6; }
QGroupBox { border: 1px solid #2a2e37; border-radius: 6px; margin-top: 14px; padding: 10px; }
QGroupBox::title { subcontrol-origin: margin; left: 10px; color: #a78bfa; }
QPushButton { background: #2a2e37; border: 1px solid #3a3f4b; border-radius: 5px;
              padding: 5px 12px; }
QPushButton:hover { background: #343946; }
QPushButton:disabled { color: #6b7280; }
QPushButton#danger { background: #7f1d1d; border-color: #b91c1c; }
QPushButton#primary { background: #5b21b6; border-color: #7c3aed; }
QLineEdit, QPlainTextEdit, QTextEdit, QComboBox, QSpinBox, QDoubleSpinBox, QListWidget,
QTableWidget { background: #1d2026; border: 1px solid #2a2e37; border-radius: 4px; padding: 3px; }
QStatusBar { background: #101216; color: #9ca3af; }
QCheckBox::indicator { width: 14px; height: 14px; border: 1px solid #4b5563; border-radius: 3px;
                       background: #1d2026; }
QCheckBox::indicator:hover { border-color: #a78bfa; }
QCheckBox::indicator:checked { background: #7c3aed; border-color: #a78bfa; }
QCheckBox::indicator:disabled { background: #15171c; border-color: #2a2e37; }
QPushButton:checked { background: #b91c1c; }
"""
