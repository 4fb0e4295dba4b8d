// "Show full screen" on the citizen's card page: the QR code alone, as large as the phone's
// screen, for a merchant to scan. Without JavaScript (or the Fullscreen API) the page already
// shows the code large, and the button stays hidden.
(function () {
  "use strict";

  var button = document.getElementById("card-fullscreen");
  if (!button || !document.fullscreenEnabled) {
    return;
  }
  var target = document.getElementById(button.getAttribute("data-target"));
  if (!target) {
    return;
  }

  button.addEventListener("click", function () {
    target.requestFullscreen({ navigationUI: "hide" }).catch(function () {
      // Refused (for example inside a frame): the large code on the page still works.
    });
  });

  // Leaving full screen (Escape, or the phone's back gesture) returns focus to the button.
  document.addEventListener("fullscreenchange", function () {
    if (!document.fullscreenElement) {
      button.focus();
    }
  });

  // A tap on the code in full screen closes it.
  target.addEventListener("click", function () {
    if (document.fullscreenElement === target) {
      document.exitFullscreen();
    }
  });

  button.hidden = false;
})();
