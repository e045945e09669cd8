"""`GET /wallboard`: the supervisor's live screen, one self-contained HTML page.

Inline CSS and script, no network fetch but its own event stream: the page opens
`/api/events` with EventSource (passing on the `?token=` it was opened with), draws the
snapshot, applies each delta in place, and ticks time in state and the longest wait once a
second from the start times the stream sends (corrected by the server's clock in the
snapshot). Thresholds come from the site file's `[wallboard]`. The browser reconnects by
itself and sends `Last-Event-ID`, so a short outage costs nothing but the gap.
"""

from __future__ import annotations

import html
import json

from acdgate.acd.site import Site
from twisted.web import resource, server

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Wallboard - __SITE__</title>
<style>
body{font-family:system-ui,sans-serif;margin:1rem;background:#111;color:#eee}
h1{font-size:1.4rem;margin:.2rem 0 1rem}h2{font-size:1.1rem;margin:1.2rem 0 .4rem}
table{border-collapse:collapse;width:100%}th,td{padding:.35rem .6rem;text-align:left;border-bottom:1px solid #333}
th{color:#aaa;font-weight:600}.num{text-align:right;font-variant-numeric:tabular-nums}
.amber{background:#8a6d00;color:#fff}.red{background:#a01818;color:#fff}
.st-ready{color:#6d6}.st-not-ready{color:#e88}.st-reserved{color:#fd5}.st-talking{color:#6cf}
.st-work-ready,.st-work-not-ready{color:#c9f}
#status{float:right;font-size:.9rem;color:#aaa}#status.down{color:#f66}
</style></head>
<body>
<h1>__SITE__ <span id="status">connecting</span></h1>
<h2>Groups</h2>
<table id="groups"><thead><tr><th>group</th><th class="num">waiting</th><th class="num">longest wait</th>
<th class="num">ready</th><th class="num">not ready</th><th class="num">reserved</th><th class="num">talking</th>
<th class="num">work</th><th class="num">service level</th><th class="num">answered today</th>
<th class="num">abandoned today</th></tr></thead><tbody></tbody></table>
<h2>Agents</h2>
<table id="agents"><thead><tr><th>agent</th><th>station</th><th>state</th><th>reason</th>
<th class="num">time in state</th><th class="num">calls today</th><th>caller</th></tr></thead><tbody></tbody></table>
<script>
"use strict";
const LIMITS = __LIMITS__;
const STATE_NAMES = {"ready":"Ready","not-ready":"Not Ready","reserved":"Reserved","talking":"Talking",
  "work-ready":"Work Ready","work-not-ready":"Work Not Ready","logged-out":"Logged out"};
const groups = new Map(), agents = new Map();
let skew = 0;  // server seconds minus this browser's
const now = () => Date.now() / 1000 + skew;
function hms(s){s=Math.max(0,Math.floor(s));const h=Math.floor(s/3600),m=Math.floor(s%3600/60),x=s%60;
  return h+":"+String(m).padStart(2,"0")+":"+String(x).padStart(2,"0");}
function cell(tr, cls, text, num){let td=tr.querySelector("."+cls);
  if(!td){td=document.createElement("td");td.className=cls+(num?" num":"");tr.appendChild(td);}
  td.textContent=text;return td;}
function level(td, value, amber, red, lowIsBad){td.classList.remove("amber","red");
  if(value===null||value===undefined)return;
  const bad=lowIsBad?(v,t)=>v<=t:(v,t)=>v>=t;
  if(bad(value,red))td.classList.add("red");else if(bad(value,amber))td.classList.add("amber");}
function row(table, id){const body=document.querySelector("#"+table+" tbody");
  let tr=document.getElementById(id);if(!tr){tr=document.createElement("tr");tr.id=id;body.appendChild(tr);}
  return tr;}
function drawGroup(g){const tr=row("groups","group-"+g.number);
  cell(tr,"name",g.number+" "+g.name);
  level(cell(tr,"waiting",String(g.waiting),true),g.waiting,LIMITS.waiting_amber,LIMITS.waiting_red,false);
  cell(tr,"lqt","",true);
  const a=g.agents;
  cell(tr,"ready",String(a["ready"]||0),true);cell(tr,"not-ready",String(a["not-ready"]||0),true);
  cell(tr,"reserved",String(a["reserved"]||0),true);cell(tr,"talking",String(a["talking"]||0),true);
  cell(tr,"work",String((a["work-ready"]||0)+(a["work-not-ready"]||0)),true);
  const sl=g.service_level;
  level(cell(tr,"service-level",sl===null?(g.reported?"-":"not reported"):sl.toFixed(0)+" %",true),
        sl,LIMITS.service_level_amber,LIMITS.service_level_red,true);
  cell(tr,"answered",g.answered===null?"-":String(g.answered),true);
  cell(tr,"abandoned",g.abandoned===null?"-":String(g.abandoned),true);
  tick();}
function drawAgent(a){const id="agent-"+a.user;
  if(a.state==="logged-out"){const tr=document.getElementById(id);if(tr)tr.remove();agents.delete(a.user);return;}
  const tr=row("agents",id);
  cell(tr,"name",a.user+" "+a.name);cell(tr,"station",a.station||"");
  const st=cell(tr,"state",STATE_NAMES[a.state]||a.state);st.className="state st-"+a.state;
  cell(tr,"reason",a.reason||"");cell(tr,"time-in-state","",true);
  cell(tr,"calls-handled",String(a.calls_handled_today),true);
  cell(tr,"caller",a.call?((a.call.direction==="outgoing"?"to ":"")+a.call.number+(a.call.name?" "+a.call.name:"")):"");
  tick();}
function tick(){const t=now();
  for(const g of groups.values()){const tr=document.getElementById("group-"+g.number);if(!tr)continue;
    const wait=g.oldest_enqueued_at===null?null:t-g.oldest_enqueued_at;
    level(cell(tr,"lqt",wait===null?"-":hms(wait),true),wait,LIMITS.lqt_amber_seconds,LIMITS.lqt_red_seconds,false);}
  for(const a of agents.values()){const tr=document.getElementById("agent-"+a.user);
    if(tr)cell(tr,"time-in-state",hms(t-a.since),true);}}
const status=document.getElementById("status");
const params=new URLSearchParams(location.search);
const token=params.get("token");
const source=new EventSource("/api/events"+(token?"?token="+encodeURIComponent(token):""));
source.addEventListener("open",()=>{status.textContent="live";status.className="";});
source.addEventListener("error",()=>{status.textContent="reconnecting";status.className="down";});
source.addEventListener("snapshot",e=>{const s=JSON.parse(e.data);skew=s.at-Date.now()/1000;
  groups.clear();agents.clear();
  document.querySelectorAll("#groups tbody tr, #agents tbody tr").forEach(tr=>tr.remove());
  for(const g of s.groups){groups.set(g.number,g);drawGroup(g);}
  for(const a of s.agents){agents.set(a.user,a);drawAgent(a);}
  document.body.dataset.snapshot=e.lastEventId;});
source.addEventListener("group",e=>{const g=JSON.parse(e.data);groups.set(g.number,g);drawGroup(g);});
source.addEventListener("agent",e=>{const a=JSON.parse(e.data);if(a.state!=="logged-out")agents.set(a.user,a);
  drawAgent(a);});
source.addEventListener("call",e=>{document.body.dataset.lastCall=e.data;});
setInterval(tick,1000);
</script>
</body></html>
"""


def render_wallboard(site: Site) -> str:
    """The page for `site`, its thresholds inlined."""
    w = site.wallboard
    limits = {name: getattr(w, name) for name in (
        "waiting_amber", "waiting_red", "lqt_amber_seconds", "lqt_red_seconds", "service_level_amber",
        "service_level_red")}  # fmt: skip
    # "</" cannot end the script element early: JSON of numbers only, but escape anyway
    return _PAGE.replace("__LIMITS__", json.dumps(limits).replace("</", "<\\/")).replace(
        "__SITE__", html.escape(site.name))


class WallboardPage(resource.Resource):
    """`/wallboard` (the token, when the site sets one, is checked by `http_api.Root`)."""

    isLeaf = True

    def __init__(self, site: Site) -> None:
        super().__init__()
        self._body = render_wallboard(site).encode()

    def render_GET(self, request: server.Request) -> bytes:
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        # everything is inline; the only fetch is the page's own event stream
        request.setHeader(b"content-security-policy",
                          b"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                          b"connect-src 'self'")
        return self._body
