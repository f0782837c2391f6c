/** The Collection contract on the embedded (memory) adapter, for every collection of the mesh. */
import { createMemoryStores, type Stores, storeNames } from "../../src/index.js";
import { describeCollectionContract } from "./collection.contract.js";
import { fixtures } from "./fixtures.js";

const stores: Stores = createMemoryStores();
for (const name of storeNames) {
  describeCollectionContract(`memory ${name}`, fixtures[name], async () => stores[name] as never);
}
