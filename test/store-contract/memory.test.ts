/** The Collection contract on the embedded (memory) adapter, for every collection of the mesh. */
import { createMemoryStores } from "@lucid-rdp/storage";
import { describeCollectionContract } from "@lucid-rdp/storage/contract";
import { fixtures, meshSpecs } from "./fixtures.js";

const stores = createMemoryStores(meshSpecs);
for (const name of Object.keys(meshSpecs) as (keyof typeof meshSpecs)[]) {
  describeCollectionContract(`memory ${name}`, fixtures[name], async () => stores[name] as never);
}
