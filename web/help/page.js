// The help page works without JavaScript; with it, Quick exit replaces the page (so Back can't
// return here), Esc pressed three times leaves too, and the lines come by region.
import { setupQuickExit } from "../shared/quickexit.js";
import { showResourcesByRegion } from "../shared/resources.js";

setupQuickExit();
// The lines the server lists (HARBOR_RESOURCES or the defaults), the person's region first.
showResourcesByRegion(document.getElementById("resources"), { idPrefix: "page", headingLevel: 2 });
