// The merchant's card scanner: opens the camera (the rear one on a phone), reads the card's
// QR code and hands its text over. A file of ours, so the CSP needs no inline script.
//
// Reusable by other pages: FairshareScanner.start(videoElement, onCode) resolves to a
// function that stops the camera; onCode(text) is called once, after which the camera is
// already stopped. The browser's own BarcodeDetector is used where it reads QR codes
// (Android, macOS); elsewhere the vendored barcode-detector ponyfill (zxing-cpp compiled to
// WebAssembly, served from /static, see static/vendor/README.md and decision 0023).
//
// On the point of sale it fills the card code field and sets the method to "card"; without
// JavaScript or a camera the page is the same form and the code is typed.
(function () {
  "use strict";

  var SCAN_EVERY_MS = 150;
  var DEFAULT_WASM = "/static/vendor/zxing_reader.wasm";
  var prepared = null;

  function wasmUrl() {
    var marked = document.querySelector("[data-zxing-wasm]");
    return marked ? marked.getAttribute("data-zxing-wasm") : DEFAULT_WASM;
  }

  function makeDetector() {
    if (prepared) {
      return prepared;
    }
    prepared = Promise.resolve().then(function () {
      if ("BarcodeDetector" in window && window.BarcodeDetector.getSupportedFormats) {
        return window.BarcodeDetector.getSupportedFormats().then(function (formats) {
          if (formats.indexOf("qr_code") >= 0) {
            return new window.BarcodeDetector({ formats: ["qr_code"] });
          }
          return ponyfill();
        });
      }
      return ponyfill();
    });
    return prepared;
  }

  function ponyfill() {
    var api = window.BarcodeDetectionAPI;
    if (!api) {
      throw new Error("the QR reader (vendor/barcode-detector.js) is not loaded");
    }
    var url = wasmUrl();
    // Never the library's default CDN: the wasm is ours, and connect-src is 'self'.
    api.prepareZXingModule({
      overrides: {
        locateFile: function (path, prefix) {
          return path.endsWith(".wasm") ? url : prefix + path;
        },
      },
    });
    return new api.BarcodeDetector({ formats: ["qr_code"] });
  }

  function available() {
    return Boolean(
      window.isSecureContext && navigator.mediaDevices && navigator.mediaDevices.getUserMedia
    );
  }

  function start(video, onCode) {
    if (!available()) {
      return Promise.reject(new Error("no camera: the page needs HTTPS and a camera"));
    }
    var stream = null;
    var timer = null;
    var stopped = false;

    function stop() {
      stopped = true;
      if (timer !== null) {
        clearTimeout(timer);
        timer = null;
      }
      if (stream) {
        stream.getTracks().forEach(function (track) {
          track.stop();
        });
        stream = null;
      }
      video.srcObject = null;
    }

    return navigator.mediaDevices
      .getUserMedia({ audio: false, video: { facingMode: { ideal: "environment" } } })
      .then(function (opened) {
        stream = opened;
        video.srcObject = opened;
        return video.play();
      })
      .then(makeDetector)
      .then(function (detector) {
        function scan() {
          if (stopped) {
            return;
          }
          var ready = video.readyState >= 2 && video.videoWidth > 0;
          var reading = ready ? detector.detect(video) : Promise.resolve([]);
          reading
            .then(function (codes) {
              if (stopped) {
                return;
              }
              if (codes.length > 0 && codes[0].rawValue) {
                stop();
                onCode(codes[0].rawValue);
              } else {
                timer = setTimeout(scan, SCAN_EVERY_MS);
              }
            })
            .catch(function () {
              if (!stopped) {
                timer = setTimeout(scan, SCAN_EVERY_MS);
              }
            });
        }
        scan();
        return stop;
      })
      .catch(function (error) {
        stop();
        throw error;
      });
  }

  window.FairshareScanner = { available: available, start: start };

  // ---- the point of sale ---------------------------------------------------------------
  var box = document.getElementById("scanner");
  if (!box || !available()) {
    return;
  }
  var startButton = document.getElementById("scanner-start");
  var stopButton = document.getElementById("scanner-stop");
  var video = document.getElementById("scanner-video");
  var status = document.getElementById("scanner-status");
  var method = document.getElementById("f-method");
  var reference = document.getElementById("f-reference");
  var stopCamera = null;

  function idle() {
    startButton.hidden = false;
    stopButton.hidden = true;
    video.hidden = true;
    stopCamera = null;
  }

  startButton.addEventListener("click", function () {
    startButton.hidden = true;
    stopButton.hidden = false;
    video.hidden = false;
    status.textContent = status.getAttribute("data-reading");
    start(video, function (text) {
      idle();
      method.value = "card";
      reference.value = text;
      status.textContent = status.getAttribute("data-read");
      reference.focus();
    })
      .then(function (stop) {
        stopCamera = stop;
      })
      .catch(function () {
        idle();
        status.textContent = status.getAttribute("data-failed");
      });
  });

  stopButton.addEventListener("click", function () {
    if (stopCamera) {
      stopCamera();
    }
    idle();
    status.textContent = "";
    startButton.focus();
  });

  box.hidden = false;
})();
