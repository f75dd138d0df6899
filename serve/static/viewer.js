// The 3D viewer of a finished job's scene.glb (every person's skinned,
// animated body and the camera), kept in step with the result video:
// the video is the clock; playing, pausing and scrubbing it moves the
// animation to the same time. <model-viewer> (npm @google/model-viewer,
// three.js bundled in) is served by body4d serve from .deps/node; when
// it is not installed the card says so.
//
// app.js calls window.body4dViewer.show(sessionFeatures, result) when a
// result arrives. For tests, document.body.dataset.viewer is "loaded"
// once the scene is in and dataset.viewerTime the animation's time.
"use strict";

window.body4dViewer = (() => {
  let script = null; // the import of model-viewer, once
  let raf = 0;

  const msg = (text) => { document.getElementById("viewermsg").textContent = text; };

  function load() {
    script = script || import("/vendor/model-viewer.min.js");
    return script;
  }

  // follow sets the viewer's animation to the video's time, every
  // animation frame while the video plays, once on pause and seek.
  function follow(video, mv) {
    const sync = () => {
      if (!mv.loaded) return;
      mv.currentTime = video.currentTime;
      document.body.dataset.viewerTime = String(mv.currentTime);
    };
    const loop = () => { sync(); raf = video.paused ? 0 : requestAnimationFrame(loop); };
    video.addEventListener("play", () => { if (!raf) raf = requestAnimationFrame(loop); });
    for (const ev of ["pause", "seeked", "timeupdate", "loadeddata"]) video.addEventListener(ev, sync);
    mv.addEventListener("load", () => {
      mv.play(); // starts the animation's action, then hands the clock to the video
      mv.pause();
      sync();
      // Frame the posed bodies (they stand metres in front of the camera,
      // far from the bind pose at the origin).
      mv.updateFraming();
      document.body.dataset.viewer = "loaded";
      msg(`scene.glb: ${mv.availableAnimations.length} animation(s); it follows the video (play, pause, scrub)`);
    });
    mv.addEventListener("error", (e) => msg(`the 3D viewer could not load scene.glb: ${e.detail && e.detail.type || "error"}`));
  }

  async function show(features, result) {
    const box = document.getElementById("viewer3d");
    box.textContent = "";
    delete document.body.dataset.viewer;
    if (!result.scene) {
      msg("no scene.glb for this job (the model directory has no body model)");
      return;
    }
    if (!features.viewer) {
      msg("3D viewer not installed: run scripts/setup.sh (npm @google/model-viewer into .deps/node), then restart body4d serve. scene.glb is still in the downloads.");
      return;
    }
    try {
      await load();
    } catch (e) {
      msg(`the 3D viewer did not load: ${e.message}`);
      return;
    }
    const mv = document.createElement("model-viewer");
    mv.id = "mv";
    mv.setAttribute("camera-controls", "");
    mv.setAttribute("interaction-prompt", "none");
    mv.setAttribute("shadow-intensity", "0");
    mv.setAttribute("animation-name", "motion");
    mv.setAttribute("alt", "every person's body, animated, in the camera's frame");
    follow(document.getElementById("result"), mv);
    mv.src = result.scene;
    box.append(mv);
    msg("loading scene.glb…");
  }

  return { show };
})();
