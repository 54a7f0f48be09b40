import { MemoryStore } from '../../src/stores/memory.js';
import { storeContract } from './store-contract.js';

storeContract('MemoryStore', () => new MemoryStore());
