/* cryptoquant dashboard: reads the JSON API and draws every chart with Plotly.
   Each chart element gets data-state="drawn|empty|error" and data-points=N when done,
   which the browser tests check. */
"use strict";

const COLORS = {BTCUSDT: "#f7931a", ETHUSDT: "#627eea", BNBUSDT: "#d4a20b"};
const PALETTE = ["#2f6fed", "#14a06f", "#d9434b", "#8e5bd8", "#e08a1e", "#1aa3b8"];
const LAYOUT = {
  template: "plotly_white", margin: {l: 55, r: 20, t: 10, b: 40},
  font: {family: "-apple-system, Segoe UI, Roboto, DejaVu Sans, sans-serif", size: 12},
  legend: {orientation: "h", y: 1.08, x: 0}, hovermode: "x unified",
  paper_bgcolor: "#fff", plot_bgcolor: "#fff",
};
const CONFIG = {responsive: true, displaylogo: false,
                modeBarButtonsToRemove: ["lasso2d", "select2d"]};

const $ = (id) => document.getElementById(id);

async function api(path, params) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== "") query.set(k, v);
  }
  const url = "/api/" + path + (query.toString() ? "?" + query : "");
  const response = await fetch(url);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function colorOf(symbol, i) { return COLORS[symbol] || PALETTE[i % PALETTE.length]; }

function message(el, text, state) {
  Plotly.purge(el);
  el.innerHTML = "";
  const div = document.createElement("div");
  div.className = "message";
  div.textContent = text;
  el.appendChild(div);
  el.dataset.state = state;
  el.dataset.points = "0";
}

async function draw(id, traces, layout) {
  const el = $(id);
  el.innerHTML = "";
  const points = traces.reduce((n, t) => n + ((t.x || t.r || t.y || []).length), 0);
  if (!points) { message(el, "No data for this selection yet", "empty"); return; }
  await Plotly.react(el, traces, Object.assign({}, LAYOUT, layout || {}), CONFIG);
  el.dataset.state = "drawn";
  el.dataset.points = String(points);
}

async function guarded(id, fn) {
  try { await fn(); } catch (err) { message($(id), "Unavailable: " + err.message, "error"); }
}

function nextDay(date) {  // the "To" date is inclusive; the API's end is exclusive
  const d = new Date(date + "T00:00:00Z");
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

function selection() {
  const start = $("start").value, end = $("end").value;
  return {symbol: $("symbol").value, interval: $("interval").value,
          start: start || undefined, end: end ? nextDay(end) : undefined};
}

// ---- charts ---------------------------------------------------------------------------
async function candles(sel) {
  const limit = sel.start || sel.end ? 2000 : 500;
  const data = await api("klines", {...sel, limit: limit,
    indicators: "ema_12,ema_26,ema_50,bb_upper,bb_middle,bb_lower,rsi_14"});
  const k = data.klines, x = k.map((r) => r.open_time);
  const ind = (code) => k.map((r) => r.indicators[code]);
  const line = (code, name, color, extra) => {
    const trace = {type: "scatter", mode: "lines", x: x, y: ind(code), name: name, yaxis: "y"};
    const style = Object.assign({color: color, width: 1.3}, (extra || {}).line);
    return Object.assign(trace, extra || {}, {line: style});
  };
  const traces = [
    {type: "candlestick", x: x, open: k.map((r) => r.open), high: k.map((r) => r.high),
     low: k.map((r) => r.low), close: k.map((r) => r.close), name: data.symbol,
     increasing: {line: {color: "#14a06f"}}, decreasing: {line: {color: "#d9434b"}}},
    line("bb_upper", "BB upper", "rgba(142,91,216,.55)", {line: {width: 1, dash: "dot"}}),
    line("bb_lower", "BB lower", "rgba(142,91,216,.55)",
         {line: {width: 1, dash: "dot"}, fill: "tonexty", fillcolor: "rgba(142,91,216,.06)"}),
    line("bb_middle", "BB middle", "rgba(142,91,216,.8)", {line: {width: 1}}),
    line("ema_12", "EMA 12", "#2f6fed"),
    line("ema_26", "EMA 26", "#e08a1e"),
    line("ema_50", "EMA 50", "#1aa3b8"),
    {type: "scatter", mode: "lines", x: x, y: ind("rsi_14"), name: "RSI 14", yaxis: "y2",
     line: {color: "#8e5bd8", width: 1.2}},
  ];
  await draw("chart-candles", traces, {
    xaxis: {rangeslider: {visible: false}, type: "date", anchor: "y2"},
    legend: {orientation: "h", y: 1.06, x: 0, traceorder: "normal"},
    yaxis: {domain: [0.28, 1], title: {text: "price"}},
    yaxis2: {domain: [0, 0.22], range: [0, 100], title: {text: "RSI"},
             tickvals: [30, 50, 70]},
    shapes: [30, 70].map((v) => ({type: "line", xref: "paper", x0: 0, x1: 1, yref: "y2",
                                  y0: v, y1: v, line: {color: "#c6ccd8", dash: "dash"}})),
  });
}

async function equity(sel) {
  const range = {start: sel.start, end: sel.end};
  const [one, all] = await Promise.all([api("equity", {...range, symbol: sel.symbol}),
                                        api("equity", range)]);
  const traces = [];
  for (const [data, dash, color] of [[one, "solid", colorOf(sel.symbol, 0)],
                                     [all, "dot", "#4a5468"]]) {
    const x = data.equity.map((r) => r.exit_time);
    traces.push({type: "scatter", mode: "lines", x: x, y: data.equity.map((r) => r.equity),
                 name: "equity " + data.scope, line: {color: color, dash: dash, width: 1.8}});
    traces.push({type: "scatter", mode: "lines", x: x, yaxis: "y2", name: "drawdown " + data.scope,
                 y: data.equity.map((r) => r.drawdown_pct), line: {color: color, width: 1, dash: dash},
                 fill: dash === "solid" ? "tozeroy" : "none", fillcolor: "rgba(217,67,75,.15)"});
  }
  await draw("chart-equity", traces, {
    xaxis: {anchor: "y2"},
    yaxis: {domain: [0.38, 1], title: {text: "equity"}},
    yaxis2: {domain: [0, 0.3], title: {text: "drawdown %"}},
  });
}

async function rolling(sel) {
  const data = await api("performance/rolling", {symbol: sel.symbol, start: sel.start,
                                                 end: sel.end});
  const x = data.rolling.map((r) => r.exit_time);
  const color = colorOf(sel.symbol, 0);
  await draw("chart-expectancy", [
    {type: "scatter", mode: "lines", x: x, y: data.rolling.map((r) => r.rolling_expectancy_r),
     name: "expectancy (R)", line: {color: color, width: 1.8}, fill: "tozeroy",
     fillcolor: "rgba(47,111,237,.08)"},
  ], {yaxis: {title: {text: "R per trade"}, zeroline: true, zerolinecolor: "#9aa3b5"},
      showlegend: false});
  await draw("chart-winrate", [
    {type: "scatter", mode: "lines", x: x, name: "win rate",
     y: data.rolling.map((r) => r.rolling_win_rate === null ? null : 100 * r.rolling_win_rate),
     line: {color: "#14a06f", width: 1.8}},
  ], {yaxis: {title: {text: "win rate %"}, range: [0, 100]}, showlegend: false});
}

async function radar(sel) {
  const data = await api("signals/latest", {interval: sel.interval, limit: 1});
  const axes = ["trend", "momentum", "volume", "volatility"];
  const traces = data.signals.map((s, i) => ({
    type: "scatterpolar", fill: "toself", name: s.symbol_code + " (" + s.action + ")",
    r: axes.map((a) => s[a + "_score"]).concat([s.trend_score]),
    theta: axes.concat([axes[0]]), opacity: 0.75,
    line: {color: colorOf(s.symbol_code, i), width: 2},
  }));
  const values = traces.flatMap((t) => t.r).filter((v) => v !== null);
  const bound = Math.ceil(Math.max(1, ...values.map(Math.abs)));
  await draw("chart-radar", traces, {
    polar: {radialaxis: {visible: true, range: [-bound, bound], gridcolor: "#e3e7ef",
                         angle: 90, tickangle: 90, tickfont: {size: 10}},
            angularaxis: {direction: "clockwise", rotation: 90}},
    hovermode: "closest", margin: {l: 40, r: 40, t: 30, b: 30},
  });
}

async function regression(sel) {
  const data = await api("regression", {...sel, limit: sel.start || sel.end ? 2000 : 500});
  const g = data.regression, x = g.map((r) => r.open_time);
  await draw("chart-regression", [
    {type: "scatter", mode: "lines", x: x, y: g.map((r) => r.upper_band), name: "upper band",
     line: {color: "rgba(47,111,237,.35)", width: 1}},
    {type: "scatter", mode: "lines", x: x, y: g.map((r) => r.lower_band), name: "lower band",
     line: {color: "rgba(47,111,237,.35)", width: 1}, fill: "tonexty",
     fillcolor: "rgba(47,111,237,.07)"},
    {type: "scatter", mode: "lines", x: x, y: g.map((r) => r.fitted_close), name: "regression",
     line: {color: "#2f6fed", width: 1.6, dash: "dash"}},
    {type: "scatter", mode: "lines", x: x, y: g.map((r) => r.close), name: "close",
     line: {color: "#1d2433", width: 1.4}},
  ], {yaxis: {title: {text: "price"}}});
}

async function rules() {
  const data = await api("rules", {limit: 500});
  const pick = (sig) => data.rules.filter((r) => r.is_significant === sig);
  const trace = (rows, name, marker) => ({
    type: "scatter", mode: "markers", name: name, x: rows.map((r) => r.confidence),
    y: rows.map((r) => r.lift),
    marker: Object.assign({size: rows.map((r) => 5 + 22 * Math.sqrt(r.support))}, marker),
    text: rows.map((r) => r.antecedent.join(" & ") + "<br>support " +
                    (100 * r.support).toFixed(1) + "% · q " + Number(r.q_value).toPrecision(2) +
                    (r.oos_confidence === null ? "" : "<br>out of sample: confidence " +
                     (100 * r.oos_confidence).toFixed(0) + "%, lift " +
                     Number(r.oos_lift).toFixed(2))),
    hovertemplate: "%{text}<br>confidence %{x:.2f} · lift %{y:.2f}<extra></extra>",
  });
  await draw("chart-rules", [
    trace(pick(false), "not significant", {color: "rgba(138,147,166,.45)"}),
    trace(pick(true), "significant (5% FDR)",
          {color: "rgba(217,67,75,.8)", symbol: "star", line: {color: "#fff", width: 0.5}}),
  ], {xaxis: {title: {text: "confidence (win rate given the pattern)"}, tickformat: ".0%"},
      yaxis: {title: {text: "lift"}}, hovermode: "closest",
      shapes: [{type: "line", xref: "paper", x0: 0, x1: 1, y0: 1, y1: 1,
                line: {color: "#9aa3b5", dash: "dash"}}]});
}

async function signals(sel) {
  const table = $("signals"), body = table.querySelector("tbody");
  const data = await api("signals/latest", {interval: sel.interval, limit: 5});
  body.innerHTML = "";
  const cell = (text, cls) => {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    td.textContent = text;
    return td;
  };
  const num = (v, digits) => (v === null || v === undefined ? "–" : Number(v).toFixed(digits));
  for (const s of data.signals) {
    const tr = document.createElement("tr");
    tr.appendChild(cell(s.symbol_code));
    tr.appendChild(cell(s.open_time.replace("T", " ").slice(0, 16), "num"));
    const action = cell("");
    const badge = document.createElement("span");
    badge.className = "action " + s.action;
    badge.textContent = s.action.replace("_", " ");
    action.appendChild(badge);
    tr.appendChild(action);
    for (const key of ["trend_score", "momentum_score", "volume_score", "volatility_score",
                       "market_score"]) {
      const v = s[key];
      tr.appendChild(cell(num(v, 2), "num " + (v > 0 ? "pos" : v < 0 ? "neg" : "")));
    }
    tr.appendChild(cell(num(100 * s.confidence_score, 0) + "%", "num"));
    const guards = cell("");
    const names = {conflict: "conflict", weak_edge: "weak edge",
                   outside_confidence_band: "outside band", no_trade: "no-trade"};
    for (const [key, guard] of Object.entries(s.guards)) {
      if (!guard.active) continue;
      const tag = document.createElement("span");
      tag.className = "guard";
      tag.textContent = names[key] || key;
      tag.title = guard.reason || "";
      guards.appendChild(tag);
    }
    tr.appendChild(guards);
    tr.appendChild(cell(s.action_reason || "", "reason"));
    body.appendChild(tr);
  }
  table.dataset.state = data.signals.length ? "drawn" : "empty";
  table.dataset.points = String(data.signals.length);
}

async function freshness() {
  const el = $("freshness");
  try {
    const data = await api("freshness");
    const last = data.series.map((s) => s.last_open_time).sort().pop();
    const run = data.last_pipeline_run;
    el.innerHTML = "";
    const line1 = document.createElement("div");
    line1.textContent = "last candle " + (last ? last.replace("T", " ").slice(0, 16) + " UTC" : "–");
    const line2 = document.createElement("div");
    line2.textContent = "pipeline " + (run ? run.status + " · " +
      String(run.finished_at || run.started_at).replace("T", " ").slice(0, 16) : "never run");
    line2.className = run && run.status === "success" ? "ok" : "stale";
    el.append(line1, line2);
  } catch (err) {
    el.textContent = "freshness unavailable";
  }
}

// ---- wiring ---------------------------------------------------------------------------
async function refresh() {
  const sel = selection();
  const shown = {...sel, end: $("end").value};
  const params = new URLSearchParams(Object.entries(shown).filter(([, v]) => v));
  history.replaceState(null, "", "?" + params);
  await Promise.all([
    guarded("chart-candles", () => candles(sel)),
    guarded("chart-equity", () => equity(sel)),
    guarded("chart-expectancy", () => rolling(sel).catch((err) => {
      message($("chart-winrate"), "Unavailable: " + err.message, "error"); throw err; })),
    guarded("chart-radar", () => radar(sel)),
    guarded("chart-regression", () => regression(sel)),
    guarded("chart-rules", () => rules()),
    signals(sel).catch((err) => { $("signals").dataset.state = "error";
      $("signals").querySelector("tbody").innerHTML = "";
      $("signals").querySelector("tbody").insertRow().insertCell().textContent =
        "Unavailable: " + err.message; }),
    freshness(),
  ]);
  document.body.dataset.ready = "true";
}

function fill(select, values, chosen) {
  select.innerHTML = "";
  for (const v of values) {
    const option = document.createElement("option");
    option.value = option.textContent = v;
    option.selected = v === chosen;
    select.appendChild(option);
  }
}

async function init() {
  const url = new URLSearchParams(location.search);
  try {
    const [syms, ivls] = await Promise.all([api("symbols"), api("intervals")]);
    fill($("symbol"), syms.symbols.map((s) => s.symbol), url.get("symbol") || "BTCUSDT");
    fill($("interval"), ivls.intervals.map((i) => i.interval), url.get("interval") || "1h");
  } catch (err) {
    document.querySelectorAll(".chart").forEach((el) => message(el, "Warehouse unavailable: " +
                                                                 err.message, "error"));
    document.body.dataset.ready = "true";
    return;
  }
  $("start").value = url.get("start") || "";
  $("end").value = url.get("end") || "";
  $("filters").addEventListener("submit", (ev) => { ev.preventDefault(); refresh(); });
  for (const id of ["symbol", "interval"]) $(id).addEventListener("change", refresh);
  await refresh();
}

init();
