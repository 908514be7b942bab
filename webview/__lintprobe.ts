const x: any = 1;
export {};
