// The help page works without JavaScript; with it, Quick exit replaces the page (so Back can't
// return here) and Esc pressed three times leaves too.
import { setupQuickExit } from "../shared/quickexit.js";

setupQuickExit();
