// Live conversations: the inbox list and an open conversation update as messages
// arrive, through the server-sent event stream /conversations/events (which polls the
// database, so it works whichever server process a message went through).
(function () {
  "use strict";
  var live = document.querySelector("[data-live]");
  if (!live || !window.EventSource) { return; }
  var newest = parseInt(live.getAttribute("data-newest") || "0", 10);
  var busy = false;

  function setUnread(count) {
    var badge = document.getElementById("nav-unread");
    if (badge) { badge.textContent = count > 0 ? " (" + count + ")" : ""; }
  }

  function stamp(iso) {
    return iso.slice(0, 10) + " " + iso.slice(11, 16) + " UTC";
  }

  function messageItem(m) {
    var li = document.createElement("li");
    li.className = "message kind-" + m.kind + (m.mine ? " mine" : "");
    li.id = "m" + m.id;
    var head = document.createElement("p");
    head.className = "small muted";
    if (m.kind === "event") {
      head.textContent = (m.author ? m.author + " " : "") + m.body + " \u00b7 " + stamp(m.created_at);
      li.appendChild(head);
      return li;
    }
    var who = document.createElement("strong");
    who.textContent = m.mine ? "You" : (m.author || "A deleted account");
    head.appendChild(who);
    head.appendChild(document.createTextNode(" \u00b7 " + stamp(m.created_at)));
    var body = document.createElement("p");
    body.className = "body";
    body.textContent = m.body;
    li.appendChild(head);
    li.appendChild(body);
    return li;
  }

  function markRead(id) {
    var token = document.querySelector("input[name=csrf_token]");
    if (!token) { return; }
    fetch("/conversations/" + id + "/read", {
      method: "POST",
      credentials: "same-origin",
      headers: { "x-csrf-token": token.value },
    })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) { setUnread(data.unread); }, function () {});
  }

  function refreshConversation() {
    var id = live.getAttribute("data-id");
    return fetch("/api/conversations/" + id + "?after=" + newest, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) {
        var added = false;
        data.messages.forEach(function (m) {
          if (m.id > newest && !document.getElementById("m" + m.id)) {
            live.appendChild(messageItem(m));
            newest = m.id;
            added = true;
          }
        });
        if (added) { markRead(id); }  // seen on this open page: the header count drops
        var shown = document.getElementById("conversation-status");
        if (shown && shown.getAttribute("data-status") !== data.status) {
          window.location.reload();  // the forms change with the state: accept, write, closed
        }
      });
  }

  function refreshInbox() {
    var view = live.getAttribute("data-view") || "inbox";
    return fetch("/conversations?partial=true&view=" + encodeURIComponent(view), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) { live.innerHTML = html; });  // rendered (and escaped) by the server
  }

  var source = new EventSource("/conversations/events?since=" + newest);
  source.addEventListener("change", function (event) {
    var data = JSON.parse(event.data);
    setUnread(data.unread);
    if (data.newest <= newest || busy) { return; }
    busy = true;
    var done = function () { busy = false; };
    var work = live.getAttribute("data-live") === "conversation" ? refreshConversation() : refreshInbox();
    work.then(function () {
      if (live.getAttribute("data-live") !== "conversation") { newest = data.newest; }
    }).then(done, done);
  });
})();
