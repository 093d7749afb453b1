import { describe, expect, it } from "vitest";
import { loginUserFiles } from "./login-user.js";

describe("loginUserFiles", () => {
  it("makes uid 65534 the login user and drops entries that clash, and the tty group", () => {
    const files = loginUserFiles(
      { name: "ada", home: "/home/ada" },
      {
        passwd:
          "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\nada:x:1000:1000::/x:/bin/sh\n",
        group: "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n",
      },
    );
    expect(files.passwd).toBe("root:x:0:0:root:/root:/bin/bash\nada:x:65534:65534:ada:/home/ada:/bin/bash\n");
    expect(files.group).toBe("root:x:0:\nada:x:65534:\n");
  });
});
