"""The dashboard page and the Plotly bundle, served from the installed plotly package."""

from __future__ import annotations

from pathlib import Path

import plotly
from flask import Blueprint, render_template, send_file

bp = Blueprint("dashboard", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/dashboard")

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


@bp.get("/")
def index():
    return render_template("dashboard.html", plotly_version=plotly.__version__)


@bp.get("/vendor/plotly.min.js")
def plotly_js():
    return send_file(PLOTLY_JS, mimetype="text/javascript", max_age=86400)
