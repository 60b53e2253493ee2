import Foundation
import MoonflowLoader
import MoonflowModel
import Testing

/// Security issue 12, item 17: a schedule that can never fire and a time zone that is not an
/// IANA name are load errors at their `file:line:col`.
@Suite struct ScheduleLoadTests {
    func diagnostics(_ trigger: String) throws -> [String] {
        let project = try TemporaryProject(files: ["workflows/w.yaml": "workflow: w\n\(trigger)\nactivities: [{name: a, call: noop}]\n"])
        return ProjectLoader(projectDirectory: project.url).loadProject().diagnostics.map(\.description)
    }

    @Test func aScheduleThatCanNeverFireIsALoadError() throws {
        #expect(
            try diagnostics("trigger: {schedule: {cron: \"0 0 30 2 *\"}}")
                == ["workflows/w.yaml:2:28: error[InvalidValue]: 'cron': '0 0 30 2 *' can never fire: no month it allows has day 30"])
        #expect(
            try diagnostics("trigger:\n  cron: 0 0 31 4,6,9,11 *")
                == ["workflows/w.yaml:3:9: error[InvalidValue]: 'cron': '0 0 31 4,6,9,11 *' can never fire: no month it allows has day 31"])
        #expect(try diagnostics("trigger: {cron: \"0 0 29 2 *\"}").isEmpty)
        #expect(try diagnostics("trigger: {cron: \"0 0 30 2 MON\"}").isEmpty)  // either day field: every Monday of February
    }

    @Test func aTimeZoneMustBeAnIANAName() throws {
        #expect(
            try diagnostics("trigger: {schedule: {cron: \"0 9 * * *\", timezone: ../../etc/passwd}}")
                == ["workflows/w.yaml:2:51: error[InvalidValue]: 'timezone': '../../etc/passwd' is not an IANA time zone name such as Europe/Paris or UTC"])
        #expect(
            try diagnostics("trigger: {cron: \"0 9 * * *\", timezone: Mars/Olympus_Mons}")
                == ["workflows/w.yaml:2:40: error[InvalidValue]: 'timezone': 'Mars/Olympus_Mons' is not an IANA time zone name such as Europe/Paris or UTC"])
        #expect(try diagnostics("trigger: {cron: \"0 9 * * *\", timezone: Europe/Paris}").isEmpty)
        #expect(try diagnostics("trigger: {cron: \"0 9 * * *\", timezone: UTC}").isEmpty)
    }
}

/// Security issue 12, item 8 (the wall in front of the budget): a pattern with a nested
/// repetition is a load error where it is written.
@Suite struct CatastrophicPatternLoadTests {
    @Test func anInlinePatternIsRefusedWhereItIsWritten() throws {
        let project = try TemporaryProject(files: [
            "workflows/w.yaml": """
                workflow: w
                input:
                  properties:
                    name: {type: string, pattern: "^(a+)+$"}
                  patternProperties:
                    "^(\\\\w+\\\\s?)*$": true
                activities: [{name: a, call: noop}]

                """
        ])
        let result = ProjectLoader(projectDirectory: project.url).loadProject()
        #expect(
            result.diagnostics.map(\.description) == [
                "workflows/w.yaml:4:35: error[InvalidValue]: the pattern '^(a+)+$' repeats a group that is itself a repetition ('(a+)+'): a failing match can take exponential time",
                #"workflows/w.yaml:6:5: error[InvalidValue]: the pattern '^(\w+\s?)*$' repeats a group that is itself a repetition ('(\w+\s?)*'): a failing match can take exponential time"#,
            ])
    }

    @Test func aPatternInASchemaFileIsReportedInsideThatFile() throws {
        let project = try TemporaryProject(files: [
            "workflows/w.yaml": "workflow: w\ninput: {$ref: ../schemas/s.json}\nactivities: [{name: a, call: noop}]\n",
            "schemas/s.json": "{\"type\": \"object\",\n \"properties\": {\"name\": {\"pattern\": \"^(a+)+$\"}}}\n",
        ])
        let result = ProjectLoader(projectDirectory: project.url).loadProject()
        #expect(
            result.diagnostics.map(\.description) == [
                "schemas/s.json:2:37: error[InvalidValue]: the pattern '^(a+)+$' repeats a group that is itself a repetition ('(a+)+'): a failing match can take exponential time",
                "workflows/w.yaml:2:15: error[InvalidValue]: the schema schemas/s.json has a pattern with a nested repetition at #/properties/name/pattern",
            ])
    }
}
