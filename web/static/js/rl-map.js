// Maps without a tile server: the hub's own road graph drawn as vectors, plus hazard zones,
// routes and the markers both screens share.
(function () {
  "use strict";
  const RL = window.RL;
  const L = window.L;
  const OSM = "© OpenStreetMap contributors";

  const ROAD_STYLE = {
    motorway: [5, "#c2410c"], trunk: [4.5, "#d9480f"], primary: [4, "#e8590c"],
    secondary: [3.2, "#f08c00"], tertiary: [2.6, "#868e96"], residential: [1.6, "#adb5bd"],
    unclassified: [1.6, "#adb5bd"], living_street: [1.2, "#ced4da"], service: [1, "#ced4da"],
  };
  function roadStyle(feature) {
    const hw = ((feature.properties && feature.properties.highway) || "road")
      .replace(/_link$/, "");
    const s = ROAD_STYLE[hw] || [1.4, "#adb5bd"];
    return { color: s[1], weight: s[0], opacity: 0.9, lineCap: "round", interactive: false };
  }

  let infoPromise = null;
  let roadsPromise = null;
  RL.mapInfo = function () {
    if (!infoPromise) {
      infoPromise = fetch("/api/v1/map/info", { cache: "no-store" }).then((r) => r.json());
    }
    return infoPromise;
  };
  RL.roads = function () {
    if (!roadsPromise) roadsPromise = RL.api("GET", "/map/roads");
    return roadsPromise;
  };

  // A Leaflet map fitted to the hub's map, roads drawn on a canvas, OSM credited.
  RL.createMap = async function (el, options) {
    const info = await RL.mapInfo();
    const renderer = L.canvas({ padding: 0.3 });
    const map = L.map(el, Object.assign({
      preferCanvas: true, renderer, zoomSnap: 0.25, attributionControl: true,
      zoomControl: true, minZoom: 10, maxZoom: 19,
    }, options || {}));
    map.attributionControl.setPrefix(false);
    const [minLon, minLat, maxLon, maxLat] = info.bbox;
    const bounds = L.latLngBounds([minLat, minLon], [maxLat, maxLon]);
    map.fitBounds(bounds);
    map.setMaxBounds(bounds.pad(0.5));
    map.attributionControl.addAttribution(info.attribution || OSM);
    if (!/OpenStreetMap/.test(info.attribution || "")) map.attributionControl.addAttribution(OSM);
    if (info.tile_url) {
      L.tileLayer(info.tile_url, { maxZoom: 19, attribution: OSM }).addTo(map);
    }
    const base = L.layerGroup().addTo(map);
    RL.roads().then((gj) => {
      L.geoJSON(gj, { style: roadStyle, renderer }).addTo(base);
      map.fire("roadsloaded");
    }).catch((e) => RL.toast(RL.t("map.roads_failed") + " " + RL.errorText(e), "error"));
    map.redlineBounds = bounds;
    return map;
  };

  // ---- hazard zone: isolation circle + ERG protective square (or circle without wind) ----

  const EARTH_R = 6371008.8;
  function localProjector(lat, lon) {
    const ky = (EARTH_R * Math.PI) / 180;
    const kx = ky * Math.cos((lat * Math.PI) / 180);
    return (x, y) => [lat + y / ky, lon + x / kx];
  }

  // mirrors dispatch.hazard.HazardZone: the square's near edge is centred on the source and
  // it reaches `protective_m` downwind
  RL.protectiveSquare = function (lat, lon, protectiveM, downwindDeg) {
    const toLatLon = localProjector(lat, lon);
    const a = (downwindDeg * Math.PI) / 180;
    const d = [Math.sin(a), Math.cos(a)];
    const p = [d[1], -d[0]];
    const h = protectiveM / 2;
    const s = protectiveM;
    return [
      toLatLon(p[0] * h, p[1] * h),
      toLatLon(p[0] * h + d[0] * s, p[1] * h + d[1] * s),
      toLatLon(-p[0] * h + d[0] * s, -p[1] * h + d[1] * s),
      toLatLon(-p[0] * h, -p[1] * h),
    ];
  };

  RL.hazardLayer = function (incident) {
    const group = L.featureGroup();
    const iso = incident && incident.isolation;
    if (!iso || !incident.location) return group;
    const { lat, lon } = incident.location;
    if (iso.protective_m > 0) {
      const style = { color: "#e8590c", weight: 2, dashArray: "8 6", fillColor: "#ffa94d",
        fillOpacity: 0.18 };
      let shape;
      if (iso.downwind_deg === null || iso.downwind_deg === undefined) {
        shape = L.circle([lat, lon], Object.assign({ radius: iso.protective_m }, style));
      } else {
        shape = L.polygon(RL.protectiveSquare(lat, lon, iso.protective_m, iso.downwind_deg),
          style);
        const tip = localProjector(lat, lon);
        const a = (iso.downwind_deg * Math.PI) / 180;
        const far = Math.min(iso.protective_m * 0.35, 600);
        L.polyline([[lat, lon], tip(Math.sin(a) * far, Math.cos(a) * far)], {
          color: "#1864ab", weight: 3, dashArray: "2 6", interactive: false,
        }).addTo(group);
      }
      shape.bindTooltip(RL.t("map.protective_zone", { m: Math.round(iso.protective_m) }));
      shape.addTo(group);
    }
    L.circle([lat, lon], {
      radius: Math.max(iso.radius_m, 1), color: "#c92a2a", weight: 2.5, fillColor: "#fa5252",
      fillOpacity: 0.25,
    }).bindTooltip(RL.t("map.isolation_zone", { m: Math.round(iso.radius_m) })).addTo(group);
    return group;
  };

  // ---- markers ---------------------------------------------------------------------------

  RL.STATUS_COLORS = {
    available: "#2b8a3e", dispatched: "#e67700", en_route: "#1c7ed6", on_scene: "#c92a2a",
    transporting: "#7048e8", returning: "#0c8599", out_of_service: "#495057",
  };

  RL.unitIcon = function (unit, highlight) {
    const color = RL.STATUS_COLORS[unit.status] || "#495057";
    return L.divIcon({
      className: "unit-marker" + (highlight ? " highlight" : ""),
      html: "<span style=\"background:" + color + "\">" +
        String(unit.callsign).replace(/[<>&"]/g, "") + "</span>",
      iconSize: null,
      iconAnchor: [18, 11],
    });
  };

  RL.incidentIcon = function (incident, selected) {
    const cls = "incident-marker" + (incident.exercise ? " exercise" : "") +
      (selected ? " selected" : "") + (incident.status === "closed" ? " closed" : "");
    return L.divIcon({ className: cls, html: "<span>!</span>", iconSize: [30, 30],
      iconAnchor: [15, 15] });
  };

  RL.enterpriseIcon = function (e) {
    const grade = e.max_grade || 0;
    return L.divIcon({ className: "enterprise-marker grade-" + grade,
      html: "<span>" + (grade ? grade : "") + "</span>", iconSize: [22, 20],
      iconAnchor: [11, 14] });
  };

  RL.stagingIcon = function () {
    return L.divIcon({ className: "staging-marker", html: "<span>S</span>", iconSize: [22, 22],
      iconAnchor: [11, 11] });
  };

  RL.routeColor = function (capability) {
    const c = { hazmat: "#e8590c", medical: "#7048e8", fire: "#c92a2a", foam: "#d6336c",
      rescue: "#1c7ed6", command: "#343a40", aerial: "#5c940d" };
    return c[capability] || "#1c7ed6";
  };
})();
